"""A Wisp action as a WebAssembly component of the world wisp:function/function@0.1.0
(wit/wisp-function.wit): greets its `name` parameter and counts visits in the namespace's
key-value store."""

import json

import wit_world
from wit_world.imports import kv, log

# Module state lives as long as the instance: a warm instance serves many activations.
activations = 0


class WitWorld(wit_world.WitWorld):
    def handle(self, params: str) -> str:
        global activations
        activations += 1
        name = json.loads(params).get("name", "World")
        print(f"greeting {name}")
        log.log(log.Level.INFO, f"activation {activations} of this instance")
        visits = kv.incr("visits", 1)
        return json.dumps({"greeting": f"Hello, {name}!", "visits": visits, "activations": activations})
