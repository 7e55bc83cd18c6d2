//! What gets generated, independent of how it is written: the Rust shape of each schema and
//! operation, and how a schema maps to a Rust type.

use serde_json::Value;

use crate::parse::{component_schema, schema_ref_name};
use crate::Error;

/// The Rust type a schema maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// `string` (also `time`, `uuid`, `date` formats).
    String,
    /// `string`/`duration`: an ISO 8601 duration kept as text (`PT1M30S`).
    Duration,
    /// `string`/`date-time`.
    DateTime,
    /// `boolean`.
    Bool,
    /// `integer`/`uint8`.
    U8,
    /// `integer`/`int32`.
    I32,
    /// `integer` of any other format.
    I64,
    /// `number`.
    F64,
    /// Anything without a precise Rust shape (free-form objects, unions of unlike types).
    Json,
    /// A generated type: the component schema's name.
    Named(String),
    /// `array`.
    Vec(Box<Ty>),
}

impl Ty {
    /// The component schemas this type names, directly or as array items.
    pub fn named(&self) -> Option<&str> {
        match self {
            Ty::Named(name) => Some(name),
            Ty::Vec(item) => item.named(),
            _ => None,
        }
    }
}

/// A generated type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    /// The component schema (`Pbx.Queue`).
    pub schema: String,
    /// The Rust name (`Queue`).
    pub rust_name: String,
    /// The schema's description, if any.
    pub description: Option<String>,
    /// Schemas whose properties were folded in through `allOf` (`Pbx.ClickToCall`, `Pbx.DN`).
    pub bases: Vec<String>,
    /// Its shape.
    pub kind: TypeKind,
}

/// The shape of a generated type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// An object: one field per property.
    Struct(Vec<Field>),
    /// A string enum.
    Enum(Vec<Variant>),
    /// A flags enum (`x-ms-enum-flags`): any combination, written as a comma-separated list.
    Flags(Vec<Variant>),
}

/// A property of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property as the document names it.
    pub json_name: String,
    /// The Rust identifier.
    pub rust_name: String,
    /// The Rust type, without `Option`.
    pub ty: Ty,
    /// `Option<ty>`: the property is not both required and non-nullable.
    pub optional: bool,
    /// Held in a `Box` to break a cycle of types.
    pub boxed: bool,
    /// The property's description, if any.
    pub description: Option<String>,
}

/// A value of a string enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The value as written on the wire.
    pub value: String,
    /// The Rust variant (or constant) name, PascalCase.
    pub rust_name: String,
}

/// How an operation is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// GET answering an OData collection (`{"value": [...]}`).
    Collection,
    /// GET answering one entity.
    Entity,
    /// POST of an action; the answer body is not used.
    Action,
}

impl OpKind {
    /// The variant of the generated `OperationKind`.
    pub fn variant(self) -> &'static str {
        match self {
            OpKind::Collection => "Collection",
            OpKind::Entity => "Entity",
            OpKind::Action => "Action",
        }
    }
}

/// A generated operation.
#[derive(Debug, Clone, PartialEq)]
pub struct OpModel {
    /// Stable name for metrics and logs: first tag and operationId (`ActiveCalls.ListActiveCall`).
    pub name: String,
    /// The Rust method name.
    pub rust_name: String,
    /// `GET` or `POST`.
    pub method: String,
    /// The path template, relative to `/xapi/v1`.
    pub path: String,
    /// The operation's summary, if any.
    pub summary: Option<String>,
    /// How it is called.
    pub kind: OpKind,
    /// Collection: the item type; entity: the entity type; action: none.
    pub response: Option<Ty>,
    /// Path parameters that are keys (`({Id})`): method arguments.
    pub key_params: Vec<Param>,
    /// Parameters of an OData function (`Pbx.GetX(a={a},...)`): fields of `params_type`.
    pub function_params: Vec<Param>,
    /// The Rust name of the parameters struct, when there are function parameters.
    pub params_type: Option<String>,
    /// The operation accepts OData query options (`$filter`, `$top`, `$expand`, ...).
    pub takes_query: bool,
}

/// A path parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The name in the path template.
    pub name: String,
    /// The Rust identifier.
    pub rust_name: String,
    /// The Rust type, without `Option`.
    pub ty: Ty,
    /// Nullable: `Option<ty>`, written `null` when absent.
    pub optional: bool,
    /// The default the document gives, if any.
    pub default: Option<Value>,
}

/// What kind of thing a component schema becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// A generated struct.
    Struct,
    /// A generated enum.
    Enum,
    /// A generated flags type.
    Flags,
    /// A free-form object: `serde_json::Value`.
    FreeObject,
    /// Anything else (a primitive, a union): inlined where referenced.
    Inline,
}

/// How a component schema is translated.
pub fn schema_kind(schema: &Value) -> SchemaKind {
    let is_flags = schema.pointer("/x-ms-enum-flags/isFlags").and_then(Value::as_bool) == Some(true);
    if schema.get("enum").is_some() && schema.get("type").and_then(Value::as_str) == Some("string") {
        if is_flags {
            SchemaKind::Flags
        } else {
            SchemaKind::Enum
        }
    } else if schema.get("properties").is_some() || schema.get("allOf").is_some() {
        SchemaKind::Struct
    } else if schema.get("type").and_then(Value::as_str) == Some("object") {
        SchemaKind::FreeObject
    } else {
        SchemaKind::Inline
    }
}

/// The Rust type of `schema` and whether the schema is nullable. `at` names the place for errors.
pub fn ty_of(doc: &Value, schema: &Value, at: &str) -> Result<(Ty, bool), Error> {
    ty_of_depth(doc, schema, at, 0)
}

fn ty_of_depth(doc: &Value, schema: &Value, at: &str, depth: usize) -> Result<(Ty, bool), Error> {
    if depth > 16 {
        return Err(Error::Unsupported(format!("{at}: references nest too deep")));
    }
    let nullable = schema.get("nullable").and_then(Value::as_bool).unwrap_or(false);
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = schema_ref_name(reference)
            .ok_or_else(|| Error::Unsupported(format!("{at}: reference {reference} is not a component schema")))?;
        let target = component_schema(doc, name)?;
        return Ok(match schema_kind(target) {
            SchemaKind::Struct | SchemaKind::Enum | SchemaKind::Flags => (Ty::Named(name.to_owned()), false),
            SchemaKind::FreeObject => (Ty::Json, false),
            SchemaKind::Inline => ty_of_depth(doc, target, at, depth + 1)?,
        });
    }
    for union in ["allOf", "anyOf", "oneOf"] {
        let Some(parts) = schema.get(union).and_then(Value::as_array) else { continue };
        // The OData generator wraps a nullable reference as `allOf: [$ref], nullable: true`, or as
        // `anyOf: [$ref, {type: object, nullable: true}]`: a union of one real alternative.
        let real: Vec<&Value> = parts.iter().filter(|part| !is_null_marker(part)).collect();
        let marked_null = real.len() < parts.len();
        return match real.as_slice() {
            [only] => {
                let (ty, inner_nullable) = ty_of_depth(doc, only, at, depth + 1)?;
                Ok((ty, nullable || marked_null || inner_nullable))
            }
            _ if union == "allOf" => Err(Error::Unsupported(format!("{at}: inline allOf of {} schemas", real.len()))),
            _ => Ok((Ty::Json, true)),
        };
    }
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let ty = match schema.get("type").and_then(Value::as_str) {
        Some("string") => match format {
            "date-time" => Ty::DateTime,
            "duration" => Ty::Duration,
            _ => Ty::String,
        },
        Some("boolean") => Ty::Bool,
        Some("integer") => match format {
            "uint8" => Ty::U8,
            "int32" => Ty::I32,
            _ => Ty::I64,
        },
        Some("number") => Ty::F64,
        Some("array") => {
            let items = schema.get("items").ok_or_else(|| Error::Unsupported(format!("{at}: array without items")))?;
            let (item, _) = ty_of_depth(doc, items, at, depth + 1)?;
            Ty::Vec(Box::new(item))
        }
        Some("object") if schema.get("properties").is_some() => {
            return Err(Error::Unsupported(format!("{at}: inline object with properties; give it a component schema")))
        }
        Some("object") | None => Ty::Json,
        Some(other) => return Err(Error::Unsupported(format!("{at}: type {other}"))),
    };
    Ok((ty, nullable))
}

/// `{type: object, nullable: true}` (or `{nullable: true}`): the "or null" half of a union.
fn is_null_marker(schema: &Value) -> bool {
    let Some(object) = schema.as_object() else { return false };
    object.get("nullable").and_then(Value::as_bool) == Some(true)
        && object.keys().all(|k| k == "nullable" || k == "type" || k == "description")
        && object.get("type").is_none_or(|t| t == "object")
}
