//! JSON Merge Patch (RFC 7386): the deltas the hub publishes.
//!
//! A merge patch mirrors the document's shape: objects are merged key by key, `null` removes a
//! key, anything else (arrays, strings, numbers) replaces the old value whole. Because `null`
//! means "remove", the documents diffed here must not contain `null` values; the channel
//! documents never do (absent fields are omitted).

use serde_json::{Map, Value};

/// The merge patch that turns `old` into `new`, or `None` when they are equal.
///
/// Objects are compared key by key (removed keys become `null`, changed keys carry their patch,
/// new keys their value); arrays and scalars that differ are replaced whole. For any `new` free of
/// `null` values, `apply(&mut old, &diff(&old, &new)?)` leaves `old == new`.
pub fn diff(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            let mut patch = Map::new();
            for (key, old_value) in old {
                match new.get(key) {
                    None => {
                        patch.insert(key.clone(), Value::Null);
                    }
                    Some(new_value) => {
                        if let Some(inner) = diff(old_value, new_value) {
                            patch.insert(key.clone(), inner);
                        }
                    }
                }
            }
            for (key, new_value) in new {
                if !old.contains_key(key) {
                    patch.insert(key.clone(), new_value.clone());
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        _ if old == new => None,
        _ => Some(new.clone()),
    }
}

/// Applies a merge patch to `target` as RFC 7386 specifies: an object patch merges into
/// `target` (turning a non-object `target` into an empty object first), `null` members remove
/// keys, any other patch replaces `target`.
pub fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(object) = target else {
        return;
    };
    for (key, value) in members {
        if value.is_null() {
            object.remove(key);
        } else {
            apply(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    /// Arbitrary JSON without `null`, nested a few levels, with few distinct keys so that
    /// generated pairs of documents share keys.
    fn null_free_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            "[a-c]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-e]", inner, 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn applying_the_diff_of_two_documents_turns_the_first_into_the_second(
            old in null_free_json(),
            new in null_free_json(),
        ) {
            let mut patched = old.clone();
            if let Some(patch) = diff(&old, &new) {
                apply(&mut patched, &patch);
            }
            prop_assert_eq!(patched, new);
        }

        #[test]
        fn a_document_diffed_against_itself_gives_no_patch(doc in null_free_json()) {
            prop_assert_eq!(diff(&doc, &doc), None);
        }
    }

    #[test]
    fn diff_recurses_into_objects_and_replaces_arrays_whole() {
        let old = json!({"a": {"x": 1, "y": 2}, "list": [1, 2], "gone": true, "same": "s"});
        let new = json!({"a": {"x": 1, "y": 3, "z": {}}, "list": [1], "same": "s"});
        let expected = json!({"a": {"y": 3, "z": {}}, "list": [1], "gone": null});
        assert_eq!(diff(&old, &new), Some(expected));
    }

    #[test]
    fn apply_follows_the_rfc_7386_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!(["a", "b"]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (target, patch, expected) in cases {
            let mut patched = target.clone();
            apply(&mut patched, &patch);
            assert_eq!(patched, expected, "{target} + {patch}");
        }
    }
}
