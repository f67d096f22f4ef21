"""Wisp's Python launcher.

It starts unspecialised (a "stem cell"), announces itself ready, then speaks Wisp's pipe
protocol (crates/invoker/src/process/protocol.rs): one JSON message per line on stdin, one JSON
reply per line on fd 3, and after every init or run a sentinel line on stdout and on stderr so
the invoker knows where this activation's logs end.
"""

import glob
import importlib.util
import json
import os
import sys
import traceback
import types

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n"
results = os.fdopen(3, "w", encoding="utf-8")
entry_point = None


def reply(message):
    results.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n")
    results.flush()


def end_of_activation():
    for stream in (sys.stdout, sys.stderr):
        stream.write(SENTINEL)
        stream.flush()


def load_source(code):
    module = types.ModuleType("main__")
    module.__file__ = os.path.join(os.getcwd(), "__main__.py")
    exec(compile(code, "__main__.py", "exec"), module.__dict__)
    return module


def load_directory(directory):
    for site in glob.glob(os.path.join(directory, "virtualenv", "lib", "python*", "site-packages")):
        sys.path.insert(0, site)
    sys.path.insert(0, directory)
    os.chdir(directory)
    location = os.path.join(directory, "__main__.py")
    if not os.path.exists(location):
        raise ImportError("the archive has no __main__.py")
    spec = importlib.util.spec_from_file_location("main__", location)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def init(message):
    global entry_point
    for key, value in (message.get("env") or {}).items():
        os.environ[key] = value if isinstance(value, str) else json.dumps(value)
    name = message.get("main") or "main"
    try:
        if message.get("dir"):
            module = load_directory(message["dir"])
        else:
            module = load_source(message.get("code") or "")
        entry_point = getattr(module, name, None)
        if not callable(entry_point):
            reply({"error": "Initialization has failed due to: the function '%s' is not defined." % name})
        else:
            reply({"ok": True})
    except BaseException as ex:  # a SyntaxError or SystemExit in user code must not kill us
        traceback.print_exc()
        reply({"error": "Initialization has failed due to: %s" % "".join(traceback.format_exception_only(type(ex), ex)).strip()})
    end_of_activation()


def run(message):
    activation_id = message.get("activation_id")
    for key, value in message.items():
        if key != "value" and isinstance(value, str):
            os.environ["__OW_" + key.upper()] = value
    for key, value in (message.get("env") or {}).items():
        os.environ[key] = str(value)
    try:
        result = entry_point(message.get("value"))
    except Exception as ex:
        traceback.print_exc()
        result = {"error": str(ex)}
    if result is None:
        result = {}
    if not isinstance(result, (dict, list)):
        reply({"activation_id": activation_id, "error": "The action did not return a dictionary or array."})
        return
    try:
        line = json.dumps({"activation_id": activation_id, "result": result}, ensure_ascii=False, separators=(",", ":"))
        # A lone surrogate survives dumps but cannot be written as UTF-8.
        line.encode("utf-8")
    except (TypeError, ValueError) as ex:
        reply({"activation_id": activation_id, "error": "The action did not produce a valid JSON response: %s" % ex})
        return
    results.write(line + "\n")
    results.flush()


def main():
    reply({"ready": True})
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8").strip()
        if not line:
            continue
        message = json.loads(line)
        if "init" in message:
            init(message["init"])
        else:
            try:
                run(message)
            finally:
                end_of_activation()


if __name__ == "__main__":
    main()
