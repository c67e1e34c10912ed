#!/usr/bin/env python3
"""Cut Coolify's OpenAPI document down to the operations devplane calls.

The fake Coolify in the tests validates every request against this trimmed copy, so keep it in
step with `src/coolify/`: add an operationId here when the client starts calling it, then run

    python3 scripts/trim-coolify-openapi.py ../shared/reference/coolify-openapi.yaml \
        > tests/data/coolify-openapi.trimmed.json
"""
import json
import sys

import yaml

SOURCE = {
    "repository": "https://github.com/coollabsio/coolify",
    "commit": "379abb252621f34b318190bd49b614aed9818716",
    "path": "openapi.yaml",
}

OPERATIONS = {
    "version",
    "healthcheck",
    "list-projects",
    "create-project",
    "get-project-by-uuid",
    "list-services",
    "create-service",
    "get-service-by-uuid",
    "delete-service-by-uuid",
    "start-service-by-uuid",
    "stop-service-by-uuid",
    "restart-service-by-uuid",
    "get-server-by-uuid",
}


def refs(node):
    """Yield every `$ref` target below node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def main(path):
    with open(path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)

    paths = {}
    for route, item in spec["paths"].items():
        kept = {m: op for m, op in item.items() if isinstance(op, dict) and op.get("operationId") in OPERATIONS}
        if kept:
            paths[route] = kept
    found = {op["operationId"] for item in paths.values() for op in item.values()}
    missing = OPERATIONS - found
    if missing:
        sys.exit(f"operations not in the document: {sorted(missing)}")

    # Keep only the components the kept operations reach, transitively.
    components = {}
    pending = list(refs(paths))
    while pending:
        ref = pending.pop()
        _, _, section, name = ref.split("/", 3)
        if name in components.setdefault(section, {}):
            continue
        node = spec["components"][section][name]
        components[section][name] = node
        pending.extend(refs(node))
    components["securitySchemes"] = spec["components"]["securitySchemes"]

    trimmed = {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "x-devplane-source": SOURCE,
        "servers": spec["servers"],
        "paths": paths,
        "components": components,
    }
    json.dump(trimmed, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
