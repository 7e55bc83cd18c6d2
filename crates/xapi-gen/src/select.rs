//! From the document and the operations list to the model: the selected operations, and every
//! schema they reach (responses, parameters, then properties, transitively).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::model::{schema_kind, ty_of, Field, OpKind, OpModel, Param, SchemaKind, Ty, TypeDef, TypeKind, Variant};
use crate::naming::{field_ident, pascal_case, snake_case, type_name};
use crate::operations::{Operations, SelectedOperation};
use crate::parse::{component_schema, deref, operation, schema_ref_name, sorted_keys, success_schema};
use crate::Error;

/// Names the generated code defines itself; no schema or parameters struct may take them.
pub const RESERVED_TYPE_NAMES: &[&str] = &["OperationInfo", "OperationKind", "OPERATIONS"];

/// Everything to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The operations, in the order of the operations list.
    pub operations: Vec<OpModel>,
    /// The types, ordered by Rust name.
    pub types: Vec<TypeDef>,
}

impl Model {
    /// The Rust name of the generated type for a component schema.
    pub fn rust_type(&self, schema: &str) -> &str {
        self.types.iter().find(|t| t.schema == schema).map_or("UNKNOWN", |t| t.rust_name.as_str())
    }
}

/// Builds the model of `list` over the (already patched) document.
pub fn build_model(doc: &Value, list: &Operations) -> Result<Model, Error> {
    let operations = list.operations.iter().map(|op| build_operation(doc, op)).collect::<Result<Vec<_>, _>>()?;

    let mut pending: Vec<String> = list.extra_schemas.clone();
    for op in &operations {
        let tys = op.response.iter().chain(op.key_params.iter().chain(&op.function_params).map(|p| &p.ty));
        pending.extend(tys.filter_map(Ty::named).map(str::to_owned));
    }
    let mut types: BTreeMap<String, TypeDef> = BTreeMap::new();
    while let Some(schema) = pending.pop() {
        if types.contains_key(&schema) {
            continue;
        }
        let def = build_type(doc, &schema)?;
        if let TypeKind::Struct(fields) = &def.kind {
            pending.extend(fields.iter().filter_map(|f| f.ty.named()).map(str::to_owned));
        }
        types.insert(schema, def);
    }
    box_cycles(&mut types);

    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let params_names = operations.iter().filter_map(|op| op.params_type.clone().map(|t| (t, op.name.clone())));
    let type_names = types.values().map(|t| (t.rust_name.clone(), t.schema.clone()));
    for (rust, source) in type_names.chain(params_names) {
        if RESERVED_TYPE_NAMES.contains(&rust.as_str()) {
            return Err(Error::NameClash(format!(
                "{source} would be named `{rust}`, which the generated code reserves"
            )));
        }
        if let Some(other) = taken.insert(rust.clone(), source.clone()) {
            return Err(Error::NameClash(format!("{other} and {source} would both be named `{rust}`")));
        }
    }
    let mut types: Vec<TypeDef> = types.into_values().collect();
    types.sort_by(|a, b| a.rust_name.cmp(&b.rust_name));
    Ok(Model { operations, types })
}

fn build_operation(doc: &Value, selected: &SelectedOperation) -> Result<OpModel, Error> {
    let op = operation(doc, &selected.path, &selected.method)?;
    let at = format!("{} {}", selected.method.to_ascii_uppercase(), selected.path);
    let operation_id =
        op.get("operationId").and_then(Value::as_str).ok_or_else(|| Error::Missing(format!("{at}: operationId")))?;
    let tag = op.pointer("/tags/0").and_then(Value::as_str).ok_or_else(|| Error::Missing(format!("{at}: tags")))?;
    let is_function = op.get("x-ms-docs-operation-type").and_then(Value::as_str) == Some("function");
    let last_segment_start = selected.path.rfind('/').unwrap_or(0);

    let mut key_params = Vec::new();
    let mut function_params = Vec::new();
    let mut takes_query = false;
    for param in op.get("parameters").and_then(Value::as_array).into_iter().flatten() {
        let param = deref(doc, param)?;
        let name = param.get("name").and_then(Value::as_str).unwrap_or_default();
        match param.get("in").and_then(Value::as_str) {
            Some("query") if name.starts_with('$') => takes_query = true,
            Some("path") => {
                let placeholder = format!("{{{name}}}");
                let position = selected
                    .path
                    .find(&placeholder)
                    .ok_or_else(|| Error::Missing(format!("{at}: parameter {name} is not in the path")))?;
                let schema = param.get("schema").ok_or_else(|| Error::Missing(format!("{at}: schema of {name}")))?;
                let (ty, nullable) = ty_of(doc, schema, &format!("{at} parameter {name}"))?;
                let param = Param {
                    name: name.to_owned(),
                    rust_name: field_ident(&snake_case(name)),
                    ty,
                    optional: nullable,
                    default: schema.get("default").cloned(),
                };
                if is_function && position > last_segment_start {
                    function_params.push(param);
                } else {
                    // A key always has a value, whatever the document says about null.
                    key_params.push(Param { optional: false, ..param });
                }
            }
            Some("header") => {}
            other => return Err(Error::Unsupported(format!("{at}: parameter {name} in {other:?}"))),
        }
    }

    let mut rest = selected.path.as_str();
    while let Some(open) = rest.find('{') {
        let close =
            rest[open..].find('}').map(|c| open + c).ok_or_else(|| Error::Unsupported(format!("{at}: `{{`")))?;
        let name = &rest[open + 1..close];
        if !key_params.iter().chain(&function_params).any(|p| p.name == name) {
            return Err(Error::Missing(format!("{at}: a parameter for {{{name}}}")));
        }
        rest = &rest[close + 1..];
    }

    let (kind, response) = match selected.method.to_ascii_lowercase().as_str() {
        "get" => {
            let schema =
                success_schema(doc, op)?.ok_or_else(|| Error::Missing(format!("{at}: a 200 JSON response")))?;
            match collection_item(doc, schema, &at)? {
                Some(item) => (OpKind::Collection, Some(item)),
                None => (OpKind::Entity, Some(ty_of(doc, schema, &at)?.0)),
            }
        }
        "post" => {
            if op.get("requestBody").is_some() {
                return Err(Error::Unsupported(format!("{at}: actions with a request body")));
            }
            (OpKind::Action, None)
        }
        other => return Err(Error::Unsupported(format!("{at}: method {other}"))),
    };

    let params_type = (!function_params.is_empty()).then(|| format!("{}Params", pascal_case(&selected.name)));
    Ok(OpModel {
        name: format!("{tag}.{operation_id}"),
        rust_name: selected.name.clone(),
        method: selected.method.to_ascii_uppercase(),
        path: selected.path.clone(),
        summary: op.get("summary").and_then(Value::as_str).map(str::to_owned),
        kind,
        response,
        key_params,
        function_params,
        params_type,
        takes_query: takes_query && kind != OpKind::Action,
    })
}

/// The item type when `schema` is an OData collection answer: a schema (or `allOf` of schemas)
/// with a `value` array property.
fn collection_item(doc: &Value, schema: &Value, at: &str) -> Result<Option<Ty>, Error> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => match schema_ref_name(reference) {
            Some(name) => component_schema(doc, name)?,
            None => return Ok(None),
        },
        None => schema,
    };
    let parts: Vec<&Value> = match schema.get("allOf").and_then(Value::as_array) {
        Some(parts) => parts.iter().collect(),
        None => vec![schema],
    };
    for part in parts {
        if let Some(value) = part.pointer("/properties/value") {
            if let (Ty::Vec(item), _) = ty_of(doc, value, at)? {
                return Ok(Some(*item));
            }
        }
    }
    Ok(None)
}

fn build_type(doc: &Value, schema_name: &str) -> Result<TypeDef, Error> {
    let schema = component_schema(doc, schema_name)?;
    let description = schema.get("description").and_then(Value::as_str).map(str::to_owned);
    let variants = || -> Vec<Variant> {
        let values = schema.get("enum").and_then(Value::as_array).cloned().unwrap_or_default();
        let names = schema.get("x-enum-varnames").and_then(Value::as_array);
        values
            .iter()
            .filter_map(Value::as_str)
            .enumerate()
            .map(|(i, value)| {
                let given = names.and_then(|n| n.get(i)).and_then(Value::as_str);
                Variant { value: value.to_owned(), rust_name: pascal_case(given.unwrap_or(value)) }
            })
            .collect()
    };
    let mut bases = Vec::new();
    let kind = match schema_kind(schema) {
        SchemaKind::Enum => TypeKind::Enum(variants()),
        SchemaKind::Flags => TypeKind::Flags(variants()),
        SchemaKind::Struct => TypeKind::Struct(struct_fields(doc, schema_name, schema, &mut bases)?),
        SchemaKind::FreeObject | SchemaKind::Inline => {
            return Err(Error::Unsupported(format!("schema {schema_name} is not an object or a string enum")))
        }
    };
    if let TypeKind::Enum(variants) | TypeKind::Flags(variants) = &kind {
        let mut seen = BTreeSet::new();
        if let Some(dup) = variants.iter().find(|v| !seen.insert(v.rust_name.as_str()) || v.rust_name == "Unknown") {
            return Err(Error::NameClash(format!("{schema_name}: variant `{}`", dup.rust_name)));
        }
    }
    Ok(TypeDef { schema: schema_name.to_owned(), rust_name: type_name(schema_name), description, bases, kind })
}

/// The fields of an object schema, with the properties of its `allOf` bases folded in (a
/// property of the schema itself wins over a base's), ordered by name.
fn struct_fields(doc: &Value, name: &str, schema: &Value, bases: &mut Vec<String>) -> Result<Vec<Field>, Error> {
    let mut properties: BTreeMap<String, (Value, bool)> = BTreeMap::new();
    collect_properties(doc, schema, &mut properties, bases, 0)?;
    let mut fields: Vec<Field> = Vec::new();
    let mut rust_names = BTreeSet::new();
    let object: serde_json::Map<String, Value> = properties.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect();
    for json_name in sorted_keys(&object) {
        let (property, required) = &properties[json_name];
        let (ty, nullable) = ty_of(doc, property, &format!("{name}.{json_name}"))?;
        let rust_name = field_ident(&snake_case(json_name));
        if !rust_names.insert(rust_name.clone()) {
            return Err(Error::NameClash(format!("{name}: two properties map to `{rust_name}`")));
        }
        fields.push(Field {
            json_name: json_name.clone(),
            rust_name,
            ty,
            optional: nullable || !required,
            boxed: false,
            description: property.get("description").and_then(Value::as_str).map(str::to_owned),
        });
    }
    Ok(fields)
}

fn collect_properties(
    doc: &Value,
    schema: &Value,
    into: &mut BTreeMap<String, (Value, bool)>,
    bases: &mut Vec<String>,
    depth: usize,
) -> Result<(), Error> {
    if depth > 16 {
        return Err(Error::Unsupported("allOf nests too deep".to_owned()));
    }
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        match part.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let base = schema_ref_name(reference)
                    .ok_or_else(|| Error::Unsupported(format!("allOf reference {reference}")))?;
                collect_properties(doc, component_schema(doc, base)?, into, bases, depth + 1)?;
                bases.push(base.to_owned());
            }
            None => collect_properties(doc, part, into, bases, depth + 1)?,
        }
    }
    let required: BTreeSet<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    for (key, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        into.insert(key.clone(), (property.clone(), required.contains(key.as_str())));
    }
    Ok(())
}

/// Boxes every non-`Vec` field that leads back to its own type, so recursive types have a size.
fn box_cycles(types: &mut BTreeMap<String, TypeDef>) {
    let direct_edges = |def: &TypeDef| -> Vec<String> {
        match &def.kind {
            TypeKind::Struct(fields) => {
                fields.iter().filter_map(|f| if let Ty::Named(n) = &f.ty { Some(n.clone()) } else { None }).collect()
            }
            _ => Vec::new(),
        }
    };
    let edges: BTreeMap<String, Vec<String>> = types.iter().map(|(k, v)| (k.clone(), direct_edges(v))).collect();
    let reaches = |from: &str, to: &str| -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(node) = stack.pop() {
            if node == to {
                return true;
            }
            if seen.insert(node.clone()) {
                stack.extend(edges.get(&node).into_iter().flatten().cloned());
            }
        }
        false
    };
    for (schema, def) in types.iter_mut() {
        if let TypeKind::Struct(fields) = &mut def.kind {
            for field in fields {
                if let Ty::Named(target) = &field.ty {
                    field.boxed = reaches(target, schema);
                }
            }
        }
    }
}
