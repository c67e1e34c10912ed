//! Coolify's OpenAPI document (the trimmed copy in `tests/data`), used by the fake Coolify to
//! check every request our client sends, and every answer the fake gives, against the
//! schema of its operation.

use std::{collections::HashMap, sync::OnceLock};

use jsonschema::Validator;
use serde_json::Value;

pub struct Operation {
    pub id: String,
    pub method: String,
    /// Path template segments under `/api/v1`, e.g. `["services", "{uuid}", "start"]`.
    segments: Vec<String>,
    pub definition: Value,
    body: Option<Validator>,
    /// Schema of each JSON response, by status code.
    responses: HashMap<String, Validator>,
}

pub struct Spec {
    pub operations: Vec<Operation>,
}

/// Replaces every `{"$ref": "#/components/..."}` with the referenced node (no cycles here).
fn inline(node: &Value, doc: &Value) -> Value {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let pointer = target.trim_start_matches('#');
                let resolved = doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("unresolved $ref {target}"));
                return inline(resolved, doc);
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), inline(v, doc)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| inline(v, doc)).collect()),
        other => other.clone(),
    }
}

fn validator(schema: &Value) -> Validator {
    jsonschema::draft202012::new(schema)
        .unwrap_or_else(|e| panic!("bad schema in the Coolify document: {e}"))
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = include_str!("../../data/coolify-openapi.trimmed.json");
        let doc: Value = serde_json::from_str(text).expect("trimmed Coolify document is JSON");
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, definition) in item.as_object().expect("path item") {
                let definition = inline(definition, &doc);
                let body = definition
                    .pointer("/requestBody/content/application~1json/schema")
                    .map(validator);
                let responses = definition["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(status, response)| {
                        response
                            .pointer("/content/application~1json/schema")
                            .map(|schema| (status.clone(), validator(schema)))
                    })
                    .collect();
                operations.push(Operation {
                    id: definition["operationId"]
                        .as_str()
                        .expect("operationId")
                        .to_owned(),
                    method: method.to_uppercase(),
                    segments: path
                        .trim_matches('/')
                        .split('/')
                        .map(str::to_owned)
                        .collect(),
                    definition,
                    body,
                    responses,
                });
            }
        }
        Spec { operations }
    })
}

impl Spec {
    /// The operation for `method` and a path under `/api/v1`, with its path parameters.
    pub fn find(&self, method: &str, path: &str) -> Option<(&Operation, HashMap<String, String>)> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        // Literal segments win over parameters (`/services/{uuid}` vs a literal sibling).
        let mut best: Option<(&Operation, HashMap<String, String>, usize)> = None;
        for op in self.operations.iter().filter(|op| op.method == method) {
            if op.segments.len() != parts.len() {
                continue;
            }
            let mut params = HashMap::new();
            let mut literals = 0;
            let matched = op.segments.iter().zip(&parts).all(|(seg, part)| {
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    params.insert(name.to_owned(), (*part).to_owned());
                    !part.is_empty()
                } else {
                    literals += 1;
                    seg == part
                }
            });
            if matched && best.as_ref().is_none_or(|(_, _, l)| literals > *l) {
                best = Some((op, params, literals));
            }
        }
        best.map(|(op, params, _)| (op, params))
    }
}

impl Operation {
    /// Problems with a request's query string; unknown parameters are problems too.
    pub fn check_query(&self, query: &[(String, String)]) -> Vec<String> {
        let declared: Vec<&Value> = self.definition["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .collect();
        let mut problems = Vec::new();
        for (name, value) in query {
            match declared.iter().find(|p| p["name"] == name.as_str()) {
                None => problems.push(format!(
                    "{}: query parameter {name} is not in the document",
                    self.id
                )),
                Some(p) => {
                    let typed = match p["schema"]["type"].as_str() {
                        Some("boolean") => match value.as_str() {
                            "true" => Value::Bool(true),
                            "false" => Value::Bool(false),
                            _ => Value::String(value.clone()),
                        },
                        Some("integer") => value
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or(Value::String(value.clone())),
                        _ => Value::String(value.clone()),
                    };
                    let schema = validator(&p["schema"]);
                    for e in schema.iter_errors(&typed) {
                        problems.push(format!(
                            "{}: query parameter {name}={value:?}: {e}",
                            self.id
                        ));
                    }
                }
            }
        }
        problems
    }

    /// Problems with a request body (`None`: no body was sent).
    pub fn check_body(&self, body: Option<&Value>) -> Vec<String> {
        match (&self.body, body) {
            (None, None) => Vec::new(),
            (None, Some(_)) => vec![format!("{}: the document defines no request body", self.id)],
            (Some(_), None) if self.definition["requestBody"]["required"] == true => {
                vec![format!("{}: the request body is required", self.id)]
            }
            (Some(_), None) => Vec::new(),
            (Some(schema), Some(body)) => schema
                .iter_errors(body)
                .map(|e| format!("{}: body {}: {e}", self.id, e.instance_path()))
                .collect(),
        }
    }

    /// The body's keys the document does not list (Coolify answers 422 for them).
    pub fn unknown_keys(&self, body: &Value) -> Vec<String> {
        let properties = self
            .definition
            .pointer("/requestBody/content/application~1json/schema/properties");
        match (properties.and_then(Value::as_object), body.as_object()) {
            (Some(known), Some(sent)) => sent
                .keys()
                .filter(|k| !known.contains_key(*k))
                .cloned()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Problems with one of the fake's own JSON answers.
    pub fn check_response(&self, status: u16, body: &Value) -> Vec<String> {
        match self.responses.get(&status.to_string()) {
            Some(schema) => schema
                .iter_errors(body)
                .map(|e| format!("{} answer {status} {}: {e}", self.id, e.instance_path()))
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn declares_status(&self, status: u16) -> bool {
        self.definition["responses"]
            .get(status.to_string())
            .is_some()
    }
}
