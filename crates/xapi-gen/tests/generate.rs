//! The generator on small inline documents: each test gives a document (and operations) and the
//! exact Rust it must produce, side by side.

use lineup_xapi_gen::{generate, Operations, Overlay};

/// A document with one collection operation whose items are `Pbx.Thing`, plus `schemas`
/// (YAML indented for `components.schemas`).
fn doc_with(schemas: &str) -> String {
    format!(
        r#"openapi: 3.0.4
paths:
  /Things:
    get:
      tags: [Things]
      operationId: ListThing
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                allOf:
                  - $ref: '#/components/schemas/BaseCollectionPaginationCountResponse'
                  - type: object
                    properties:
                      value:
                        type: array
                        items:
                          $ref: '#/components/schemas/Pbx.Thing'
components:
  schemas:
    BaseCollectionPaginationCountResponse:
      type: object
      properties:
        '@odata.count': {{type: integer, format: int64, nullable: true}}
{schemas}"#
    )
}

const LIST_THINGS: &str = "[[operation]]\npath = \"/Things\"\nmethod = \"get\"\nname = \"list_things\"\n";

/// `types.rs` without its fixed header.
fn types_of(spec: &str, operations: &str) -> String {
    let files = generate(spec, &Operations::from_toml(operations).unwrap(), &Overlay::default()).unwrap();
    let types = files.get("types.rs").unwrap();
    types.split_once("use serde::{Deserialize, Serialize};\n\n").unwrap().1.to_owned()
}

/// The `impl crate::XapiClient` block of `operations.rs`, and the parameters structs before it.
fn methods_of(spec: &str, operations: &str) -> String {
    let files = generate(spec, &Operations::from_toml(operations).unwrap(), &Overlay::default()).unwrap();
    let ops = files.get("operations.rs").unwrap();
    let after_table = ops.split_once("\n];\n").unwrap().1;
    after_table.trim_start().to_owned()
}

#[test]
fn object_properties_map_to_optional_snake_case_fields() {
    let spec = doc_with(
        r#"    Pbx.Thing:
      title: Thing
      type: object
      required: [Id]
      properties:
        Id: {type: integer, format: int32}
        Name: {type: string, nullable: true, description: What people call it.}
        SLATime: {type: string, format: duration}
        Seen: {type: string, format: date-time, nullable: true}
        Count: {type: integer, format: int64}
        Ratio: {type: number, format: float, nullable: true}
        Open: {type: boolean}
        Tags: {type: array, items: {type: string}}
        Type: {type: string}
"#,
    );
    let expected = r#"/// The `Pbx.Thing` schema of 3CX's XAPI document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    #[serde(rename = "Count")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    #[serde(rename = "Id")]
    pub id: i32,
    /// What people call it.
    #[serde(rename = "Name")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "Open")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<bool>,
    #[serde(rename = "Ratio")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(rename = "Seen")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<chrono::DateTime<chrono::Utc>>,
    /// An ISO 8601 duration, e.g. `PT1M30.5S`.
    #[serde(rename = "SLATime")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_time: Option<String>,
    #[serde(rename = "Tags")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(rename = "Type")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
}
"#;
    assert_eq!(types_of(&spec, LIST_THINGS), expected);
}

#[test]
fn nullable_reference_wrappers_and_allof_bases_are_unwrapped() {
    let spec = doc_with(
        r#"    Pbx.Base:
      type: object
      properties:
        Id: {type: integer, format: int32}
    Pbx.Thing:
      allOf:
        - $ref: '#/components/schemas/Pbx.Base'
        - type: object
          properties:
            Owner:
              allOf:
                - $ref: '#/components/schemas/Pbx.Owner'
              nullable: true
            Backup:
              anyOf:
                - $ref: '#/components/schemas/Pbx.Owner'
                - {type: object, nullable: true}
            Extra: {type: object}
    Pbx.Owner:
      type: object
      properties:
        Name: {type: string}
"#,
    );
    let expected = r#"/// The `Pbx.Owner` schema of 3CX's XAPI document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    #[serde(rename = "Name")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The `Pbx.Thing` schema of 3CX's XAPI document. Includes the properties of `Pbx.Base`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    #[serde(rename = "Backup")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Owner>,
    #[serde(rename = "Extra")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
    #[serde(rename = "Id")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i32>,
    #[serde(rename = "Owner")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}
"#;
    assert_eq!(types_of(&spec, LIST_THINGS), expected);
}

#[test]
fn string_enums_get_an_unknown_variant_and_odata_literals() {
    let spec = doc_with(
        r#"    Pbx.Thing:
      type: object
      properties:
        Mode: {allOf: [{$ref: '#/components/schemas/Pbx.Mode'}], nullable: true}
    Pbx.Mode:
      title: Mode
      type: string
      enum: [Hunt, IVR, Skill_Based]
"#,
    );
    let expected = r#"/// The `Pbx.Mode` enum of 3CX's XAPI document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// `Hunt`.
    #[default]
    #[serde(rename = "Hunt")]
    Hunt,
    /// `IVR`.
    #[serde(rename = "IVR")]
    Ivr,
    /// `Skill_Based`.
    #[serde(rename = "Skill_Based")]
    SkillBased,
    /// A value this document does not list (3CX added it later); it is not written back as such.
    #[serde(other)]
    Unknown,
}

impl Mode {
    /// The value as 3CX writes it; `None` for `Unknown`.
    pub const fn wire_value(self) -> Option<&'static str> {
        match self {
            Self::Hunt => Some("Hunt"),
            Self::Ivr => Some("IVR"),
            Self::SkillBased => Some("Skill_Based"),
            Self::Unknown => None,
        }
    }
}

impl crate::odata::ToODataLiteral for Mode {
    /// The value as a quoted OData string (`'Hunt'`); `null` for `Unknown`.
    fn to_odata_literal(&self) -> String {
        match self.wire_value() {
            Some(value) => format!("'{value}'"),
            None => "null".to_owned(),
        }
    }
}
"#;
    let types = types_of(&spec, LIST_THINGS);
    assert!(types.starts_with(expected), "{types}");
    assert!(types.contains("    pub mode: Option<Mode>,\n"), "{types}");
}

#[test]
fn flags_enums_keep_the_text_of_any_combination() {
    let spec = doc_with(
        r#"    Pbx.Thing:
      type: object
      properties:
        Bits: {$ref: '#/components/schemas/Pbx.Bits'}
    Pbx.Bits:
      type: string
      enum: [GlobalSchedule, AutoQueueLogOut]
      x-ms-enum-flags: {isFlags: true}
"#,
    );
    let expected = r#"/// The `Pbx.Bits` flags of 3CX's XAPI document: any combination, written as a comma-separated list (`"A, B"`). Kept as
/// text so no combination is lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Bits(pub String);

impl Bits {
    /// The flag `GlobalSchedule`.
    pub const GLOBAL_SCHEDULE: &'static str = "GlobalSchedule";

    /// The flag `AutoQueueLogOut`.
    pub const AUTO_QUEUE_LOG_OUT: &'static str = "AutoQueueLogOut";

    /// Whether `flag` (one of the constants) is set.
    pub fn contains(&self, flag: &str) -> bool {
        self.0.split(',').any(|set| set.trim() == flag)
    }
}
"#;
    let types = types_of(&spec, LIST_THINGS);
    assert!(types.starts_with(expected), "{types}");
}

/// A document with a collection, an entity by key, an action and an OData function.
const OPERATIONS_DOC: &str = r#"openapi: 3.0.4
paths:
  /Things:
    get:
      tags: [Things]
      operationId: ListThing
      parameters:
        - $ref: '#/components/parameters/top'
      responses:
        '200':
          $ref: '#/components/responses/Pbx.ThingCollectionResponse'
  '/Things({Id})':
    get:
      tags: [Things]
      operationId: GetThing
      parameters:
        - {name: Id, in: path, required: true, schema: {type: integer, format: int32}}
        - {name: $select, in: query, schema: {type: array, items: {type: string}}}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pbx.Thing'}
  '/Things({Id})/Pbx.Poke':
    post:
      tags: [Things]
      operationId: Poke
      parameters:
        - {name: Id, in: path, required: true, schema: {type: integer, format: int32}}
      responses:
        '200': {description: ok}
  '/ReportThings/Pbx.GetThingStats(periodFrom={periodFrom},queueDns={queueDns},hidePcalls={hidePcalls})':
    get:
      tags: [ReportThings]
      operationId: GetThingStats
      parameters:
        - {name: periodFrom, in: path, required: true, schema: {type: string, format: date-time}}
        - {name: queueDns, in: path, required: true, schema: {type: string, nullable: true}}
        - {name: hidePcalls, in: path, required: true, schema: {type: boolean, default: false}}
        - $ref: '#/components/parameters/top'
      responses:
        '200':
          $ref: '#/components/responses/Pbx.ThingCollectionResponse'
      x-ms-docs-operation-type: function
components:
  parameters:
    top: {name: $top, in: query, schema: {type: integer, format: int64}}
  responses:
    Pbx.ThingCollectionResponse:
      description: ok
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Pbx.ThingCollectionResponse'}
  schemas:
    Pbx.ThingCollectionResponse:
      allOf:
        - type: object
          properties:
            value: {type: array, items: {$ref: '#/components/schemas/Pbx.Thing'}}
    Pbx.Thing:
      type: object
      properties:
        Id: {type: integer, format: int32}
"#;

const OPERATIONS_LIST: &str = r#"
[[operation]]
path = "/Things"
method = "get"
name = "list_things"

[[operation]]
path = "/Things({Id})"
method = "get"
name = "get_thing"

[[operation]]
path = "/Things({Id})/Pbx.Poke"
method = "post"
name = "poke_thing"

[[operation]]
path = "/ReportThings/Pbx.GetThingStats(periodFrom={periodFrom},queueDns={queueDns},hidePcalls={hidePcalls})"
method = "get"
name = "get_thing_stats"
"#;

#[test]
fn operations_call_the_runtime_primitives_with_formatted_paths() {
    let expected = r#"/// The parameters of `XapiClient::get_thing_stats` (`ReportThings.GetThingStats`), written into the path as OData
/// literals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetThingStatsParams {
    /// `periodFrom`.
    pub period_from: chrono::DateTime<chrono::Utc>,
    /// `queueDns` (`None` is written `null`).
    pub queue_dns: Option<String>,
    /// `hidePcalls`; 3CX's default is `false`.
    pub hide_pcalls: bool,
}

impl crate::XapiClient {
    /// `GET /Things` (`Things.ListThing`).
    pub async fn list_things(&self, query: &Query) -> Result<ODataPage<types::Thing>, XapiError> {
        self.get_collection("Things.ListThing", "/Things".to_owned(), query).await
    }

    /// `GET /Things({Id})` (`Things.GetThing`).
    pub async fn get_thing(&self, id: i32, query: &Query) -> Result<types::Thing, XapiError> {
        let path = format!("/Things({})", id.to_odata_literal());
        self.get_entity("Things.GetThing", path, query).await
    }

    /// `POST /Things({Id})/Pbx.Poke` (`Things.Poke`).
    pub async fn poke_thing(&self, id: i32) -> Result<(), XapiError> {
        let path = format!("/Things({})/Pbx.Poke", id.to_odata_literal());
        self.post_action("Things.Poke", path, None).await
    }

    /// `GET /ReportThings/Pbx.GetThingStats(...)` (`ReportThings.GetThingStats`). Its parameters are the fields of
    /// `GetThingStatsParams`.
    pub async fn get_thing_stats(
        &self,
        params: &GetThingStatsParams,
        query: &Query,
    ) -> Result<ODataPage<types::Thing>, XapiError> {
        let path = format!(
            "/ReportThings/Pbx.GetThingStats(periodFrom={},queueDns={},hidePcalls={})",
            params.period_from.to_odata_literal(),
            params.queue_dns.to_odata_literal(),
            params.hide_pcalls.to_odata_literal(),
        );
        self.get_collection("ReportThings.GetThingStats", path, query).await
    }
}
"#;
    assert_eq!(methods_of(OPERATIONS_DOC, OPERATIONS_LIST), expected);
}

#[test]
fn the_operations_table_lists_every_operation() {
    let files =
        generate(OPERATIONS_DOC, &Operations::from_toml(OPERATIONS_LIST).unwrap(), &Overlay::default()).unwrap();
    let ops = files.get("operations.rs").unwrap();
    let expected_rows = [
        "    OperationInfo {\n        name: \"Things.ListThing\",\n        method: \"GET\",\n        path: \"/Things\",\n        \
         rust_name: \"list_things\",\n        kind: OperationKind::Collection,\n        \
         response_schema: Some(\"Pbx.Thing\"),\n    },\n",
        "        name: \"Things.Poke\",\n        method: \"POST\",\n        path: \"/Things({Id})/Pbx.Poke\",\n        \
         rust_name: \"poke_thing\",\n        kind: OperationKind::Action,\n        response_schema: None,\n",
    ];
    for row in expected_rows {
        assert!(ops.contains(row), "missing {row} in {ops}");
    }
}

#[test]
fn generation_is_deterministic_and_ignores_property_order() {
    let a = doc_with(
        "    Pbx.Thing:\n      type: object\n      properties:\n        B: {type: string}\n        a: {type: string}\n",
    );
    let b = doc_with(
        "    Pbx.Thing:\n      type: object\n      properties:\n        a: {type: string}\n        B: {type: string}\n",
    );
    let list = Operations::from_toml(LIST_THINGS).unwrap();
    let first = generate(&a, &list, &Overlay::default()).unwrap();
    assert_eq!(first, generate(&a, &list, &Overlay::default()).unwrap());
    assert_eq!(first, generate(&b, &list, &Overlay::default()).unwrap());
}

#[test]
fn the_overlay_is_applied_before_generation() {
    let spec = doc_with(
        "    Pbx.Thing:\n      type: object\n      properties:\n        Cost: {type: integer, format: decimal}\n",
    );
    let overlay = Overlay::from_yaml(
        "patches:\n  - why: costs have fractions\n    path: /components/schemas/Pbx.Thing/properties/Cost\n    \
         op: set\n    value: {type: number, format: double}\n",
    )
    .unwrap();
    let files = generate(&spec, &Operations::from_toml(LIST_THINGS).unwrap(), &overlay).unwrap();
    assert!(files.get("types.rs").unwrap().contains("pub cost: Option<f64>,"));
}

#[test]
fn inputs_the_generator_cannot_honour_are_errors() {
    let spec = doc_with("    Pbx.Thing:\n      type: object\n      properties:\n        Id: {type: string}\n");
    let cases = [
        ("[[operation]]\npath = \"/Nope\"\nmethod = \"get\"\nname = \"nope\"\n", "not in the XAPI document: GET /Nope"),
        ("[[operation]]\npath = \"/Things\"\nmethod = \"get\"\nname = \"ListThings\"\n", "not a snake_case name"),
        ("extra_schemas = [\"Pbx.Missing\"]\n", "not in the XAPI document: schema Pbx.Missing"),
        (&format!("{LIST_THINGS}{LIST_THINGS}"), "two operations are named `list_things`"),
    ];
    for (operations, message) in cases {
        let error = Operations::from_toml(operations)
            .and_then(|list| generate(&spec, &list, &Overlay::default()))
            .unwrap_err()
            .to_string();
        assert!(error.contains(message), "{operations}: {error}");
    }
}
