'use strict';
// Wisp's Node.js launcher. It starts unspecialised (a "stem cell"), announces itself ready,
// then speaks Wisp's pipe protocol (crates/invoker/src/process/protocol.rs): one JSON message
// per line on stdin, one JSON reply per line on fd 3, and after every init or run a sentinel
// line on stdout and on stderr so the invoker knows where this activation's logs end.

const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');
const readline = require('readline');
const { AsyncLocalStorage } = require('async_hooks');

const RESULT_FD = 3;
const SENTINEL = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX';
// In concurrent mode every log line is tagged with its activation id between these two bytes.
const TAG_START = '\x1e';
const TAG_END = '\x1f';
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

// The activation a piece of code runs for: `{ id, env }`, env being its `__OW_*` variables.
const activation = new AsyncLocalStorage();
let entryPoint = null;
let concurrent = false;

function reply(message) {
  fs.writeSync(RESULT_FD, JSON.stringify(message) + '\n');
}

function tag(id) {
  return id && concurrent ? TAG_START + id + TAG_END : '';
}

// The streams' own write functions, kept before tagWrites wraps them, so a sentinel is tagged
// exactly once.
const rawStdout = process.stdout.write.bind(process.stdout);
const rawStderr = process.stderr.write.bind(process.stderr);

// Logs wait for the invoker to read them. libuv makes the pipes non-blocking and keeps what
// does not fit in them in this process's memory until the event loop runs again, so code
// printing in a loop grew until it was killed for its memory, instead of having its logs cut
// at their limit.
for (const stream of [process.stdout, process.stderr]) {
  if (stream._handle && typeof stream._handle.setBlocking === 'function') stream._handle.setBlocking(true);
}

function endOfActivation(id) {
  const line = tag(id) + SENTINEL + '\n';
  rawStdout(line);
  rawStderr(line);
}

// Prefixes every line written inside an activation with its tag, so concurrent activations'
// logs can be told apart.
function tagWrites(stream) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, encoding, callback) => {
    const current = activation.getStore();
    if (!current) return write(chunk, encoding, callback);
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const prefix = tag(current.id);
    const lines = text.split('\n');
    const tagged = lines
      .map((line, i) => (i === lines.length - 1 && line === '' ? line : prefix + line))
      .join('\n');
    return write(tagged, typeof encoding === 'function' ? encoding : callback);
  };
}

// Concurrent runs share one process.env, where each run's `__OW_*` variables overwrite the
// last's (as in OpenWhisk). Reads made inside an activation, after an await too, see that
// activation's own values instead: process.env becomes a view that puts them first. Child
// processes started inside an activation inherit them the same way.
function perActivationEnv() {
  const shared = process.env;
  // The running activation's variables, when `key` is one of them.
  const mine = (key) => {
    const current = activation.getStore();
    return current && typeof key === 'string' && Object.hasOwn(current.env, key) ? current.env : undefined;
  };
  const own = (key) => mine(key)?.[key];
  process.env = new Proxy(shared, {
    // Writes reach the shared environment (process.env keeps only strings) and, for the
    // activation's own variables, its view too.
    set: (target, key, value) => {
      const env = mine(key);
      if (env) env[key] = String(value);
      return Reflect.set(target, key, value);
    },
    deleteProperty: (target, key) => {
      const env = mine(key);
      if (env) delete env[key];
      return Reflect.deleteProperty(target, key);
    },
    get: (target, key) => own(key) ?? Reflect.get(target, key),
    has: (target, key) => own(key) !== undefined || Reflect.has(target, key),
    getOwnPropertyDescriptor: (target, key) => {
      const value = own(key);
      if (value === undefined) return Reflect.getOwnPropertyDescriptor(target, key);
      return { value, writable: true, enumerable: true, configurable: true };
    },
    ownKeys: (target) => {
      const current = activation.getStore();
      const keys = Reflect.ownKeys(target);
      return current ? [...new Set([...keys, ...Object.keys(current.env)])] : keys;
    },
  });
}

function loadSource(code, name) {
  const filename = path.join(process.cwd(), 'action.js');
  const mod = new Module(filename, module);
  mod.filename = filename;
  mod.paths = Module._nodeModulePaths(process.cwd());
  // A plain `function main` is local to the module wrapper, so look it up from inside.
  // Compile the user's code alone first, so a syntax error points at their line, not ours.
  new vm.Script(Module.wrap(code), { filename });
  const lookup = IDENTIFIER.test(name)
    ? `\n;module.exports.__wisp_entry__ = typeof ${name} === 'function' ? ${name} : undefined;`
    : '';
  const wrapper = vm.runInThisContext(Module.wrap(code + lookup), { filename });
  wrapper.call(mod.exports, mod.exports, Module.createRequire(filename), mod, filename, path.dirname(filename));
  const exported = mod.exports;
  const fromExports = exported && typeof exported[name] === 'function' ? exported[name] : undefined;
  const local = exported && exported.__wisp_entry__;
  if (exported && '__wisp_entry__' in exported) delete exported.__wisp_entry__;
  return fromExports || local || (typeof exported === 'function' && name === 'main' ? exported : undefined);
}

function loadDirectory(dir, name) {
  // `main` may name `file.function` when the archive has no package.json or index.js.
  let target = dir;
  let exportName = name;
  const hasEntry = fs.existsSync(path.join(dir, 'package.json')) || fs.existsSync(path.join(dir, 'index.js'));
  if (!hasEntry && name.includes('.')) {
    const dot = name.indexOf('.');
    target = path.join(dir, name.slice(0, dot));
    exportName = name.slice(dot + 1);
  }
  process.chdir(dir);
  const exported = require(target);
  if (exported && typeof exported[exportName] === 'function') return exported[exportName];
  if (typeof exported === 'function' && exportName === 'main') return exported;
  return undefined;
}

// An error's message with its source location, without the launcher's own stack frames.
function describe(err) {
  if (!(err instanceof Error) || !err.stack) return String(err);
  const frames = err.stack.split('\n');
  const firstFrame = frames.findIndex((line) => /^\s+at /.test(line));
  return (firstFrame > 0 ? frames.slice(0, firstFrame) : frames).join('\n').trim();
}

function init(message) {
  for (const [key, value] of Object.entries(message.env || {})) {
    process.env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  concurrent = Boolean(message.concurrent);
  if (concurrent) {
    tagWrites(process.stdout);
    tagWrites(process.stderr);
    perActivationEnv();
  }
  const name = message.main || 'main';
  try {
    entryPoint = message.dir ? loadDirectory(message.dir, name) : loadSource(message.code || '', name);
    if (typeof entryPoint !== 'function') {
      reply({ error: `Initialization has failed due to: the function '${name}' is not defined or not exported.` });
    } else {
      reply({ ok: true });
    }
  } catch (err) {
    console.error(err && err.stack ? err.stack : String(err));
    reply({ error: `Initialization has failed due to: ${describe(err)}` });
  }
  endOfActivation(null);
}

// A rejection reason as the OpenWhisk Node.js runtime reports it (serialize-error 3.0.0): a falsy
// reason is {}, objects (Errors included) are copied without functions plus their name, message,
// stack and code strings, functions are named, anything else is kept as is.
function errorValue(err) {
  if (!err) return {};
  if (typeof err === 'function') return `[Function: ${err.name || 'anonymous'}]`;
  return typeof err === 'object' ? serializeObject(err, []) : err;
}

function serializeObject(from, seen) {
  const to = Array.isArray(from) ? [] : {};
  seen.push(from);
  for (const key of Object.keys(from)) {
    const value = from[key];
    if (typeof value === 'function') continue;
    if (!value || typeof value !== 'object') to[key] = value;
    else to[key] = seen.includes(value) ? '[Circular]' : serializeObject(value, seen.slice());
  }
  for (const key of ['name', 'message', 'stack', 'code']) {
    if (typeof from[key] === 'string') to[key] = from[key];
  }
  return to;
}

async function run(message, id) {
  let result;
  try {
    result = entryPoint(message.value);
  } catch (err) {
    console.error(err && err.stack ? err.stack : String(err));
    reply({ activation_id: id, error: `An error has occurred: ${err}` });
    return;
  }
  try {
    result = await result;
  } catch (err) {
    result = { error: errorValue(err) };
  }
  if (result === undefined) result = {};
  if (result === null || typeof result !== 'object') {
    reply({ activation_id: id, error: 'The action did not return a dictionary.' });
    return;
  }
  let line;
  try {
    line = JSON.stringify({ activation_id: id, result });
  } catch (err) {
    reply({ activation_id: id, error: `The action did not produce a valid JSON response: ${err}` });
    return;
  }
  fs.writeSync(RESULT_FD, line + '\n');
}

function handle(line) {
  if (!line) return;
  const message = JSON.parse(line);
  if (message.init) {
    init(message.init);
    return;
  }
  const id = message.activation_id;
  const env = {};
  for (const [key, value] of Object.entries(message)) {
    if (key !== 'value' && typeof value === 'string') env['__OW_' + key.toUpperCase()] = value;
  }
  for (const [key, value] of Object.entries(message.env || {})) env[key] = String(value);
  Object.assign(process.env, env);
  activation.run({ id, env }, () => run(message, id).finally(() => endOfActivation(id)));
}

reply({ ready: true });
const input = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
input.on('line', handle);
input.on('close', () => process.exit(0));
