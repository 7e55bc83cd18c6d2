//! `response_json_schema`: a self-contained JSON Schema of an operation's answer, checked on a
//! small inline document as data (document → expected schema) and by validating instances.

use lineup_xapi_gen::{response_json_schema, Overlay};
use serde_json::json;

const DOC: &str = r#"openapi: 3.0.4
paths:
  /Calls:
    get:
      operationId: ListCall
      responses:
        '200':
          $ref: '#/components/responses/Pbx.CallCollectionResponse'
components:
  responses:
    Pbx.CallCollectionResponse:
      description: ok
      content:
        application/json:
          schema: {$ref: '#/components/schemas/Pbx.CallCollectionResponse'}
  schemas:
    Pbx.CallCollectionResponse:
      title: Collection of Call
      allOf:
        - $ref: '#/components/schemas/BaseCollectionPaginationCountResponse'
        - type: object
          properties:
            value: {type: array, items: {$ref: '#/components/schemas/Pbx.Call'}}
    BaseCollectionPaginationCountResponse:
      type: object
      properties:
        '@odata.count': {type: integer, format: int64, nullable: true}
    Pbx.Call:
      type: object
      x-ms-docs-key-type: Call
      properties:
        Id: {type: integer, format: int32}
        Caller: {type: string, nullable: true, example: '100'}
        Kind:
          allOf: [{$ref: '#/components/schemas/Pbx.Kind'}]
          nullable: true
    Pbx.Kind:
      type: string
      enum: [Inbound, Outbound]
    Pbx.Unused:
      type: object
"#;

#[test]
fn the_answer_schema_is_self_contained_draft_2020_12() {
    let schema = response_json_schema(DOC, &Overlay::default(), "/Calls", "get").unwrap();
    let expected = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/$defs/Pbx.CallCollectionResponse",
        "$defs": {
            "Pbx.CallCollectionResponse": {
                "title": "Collection of Call",
                "allOf": [
                    {"$ref": "#/$defs/BaseCollectionPaginationCountResponse"},
                    {"type": "object", "properties": {"value": {"type": "array", "items": {"$ref": "#/$defs/Pbx.Call"}}}}
                ]
            },
            "BaseCollectionPaginationCountResponse": {
                "type": "object",
                "properties": {"@odata.count": {"type": ["integer", "null"], "format": "int64"}}
            },
            "Pbx.Call": {
                "type": "object",
                "properties": {
                    "Id": {"type": "integer", "format": "int32"},
                    "Caller": {"type": ["string", "null"]},
                    "Kind": {"anyOf": [{"allOf": [{"$ref": "#/$defs/Pbx.Kind"}]}, {"type": "null"}]}
                }
            },
            "Pbx.Kind": {"type": "string", "enum": ["Inbound", "Outbound"]}
        }
    });
    assert_eq!(schema, expected);
}

#[test]
fn the_schema_accepts_nulls_where_nullable_and_rejects_wrong_types() {
    let schema = response_json_schema(DOC, &Overlay::default(), "/Calls", "GET").unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let cases = [
        (json!({"value": [{"Id": 1, "Caller": null, "Kind": null}], "@odata.count": null}), true),
        (json!({"value": [{"Id": 1, "Caller": "100", "Kind": "Inbound"}]}), true),
        (json!({"value": [{"Id": "1"}]}), false),
        (json!({"value": [{"Id": 1, "Kind": "Sideways"}]}), false),
        (json!({"value": [{"Id": null}]}), false),
    ];
    for (instance, valid) in cases {
        assert_eq!(validator.is_valid(&instance), valid, "{instance}");
    }
}

#[test]
fn an_unknown_operation_is_an_error() {
    let error = response_json_schema(DOC, &Overlay::default(), "/Nope", "get").unwrap_err();
    assert!(error.to_string().contains("GET /Nope"), "{error}");
}
