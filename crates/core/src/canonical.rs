//! Canonical JSON: the bytes a wave plan's execution name is hashed from.
//!
//! The form is RFC 8785's JSON Canonicalization Scheme (JCS) on the values a valid plan can hold:
//! no insignificant whitespace; object members sorted by their names' UTF-16 code units (JCS
//! §3.2.3); strings as serde_json writes them, which is JCS §3.2.2.2: only `"` and `\` and the
//! controls U+0000-U+001F escaped (`\b \t \n \f \r`, the others as `\u00xx` in lower case), every
//! other character, non-ASCII included, written as itself in UTF-8 and never Unicode-normalised;
//! `null`, `true`, `false` as such; arrays in their order.
//!
//! Numbers are where JCS (ECMAScript's `Number.prototype.toString` on an IEEE double) and
//! serde_json differ: `1.0` vs `1`, `1e21` vs `1e+21`, integers past 2^53. A plan's numbers are
//! all `u32` fields, and [`crate::Plan::parse`] refuses a fraction, an exponent or a negative, so
//! every plan that gets a name holds only integers below 2^32, which both write as their decimal
//! digits: for those plans this is JCS byte for byte. The maintained JCS crate
//! (`serde_json_canonicalizer`) was not taken for that reason and because it turns on serde_json's
//! `float_roundtrip` feature, which would change how every crate of the workspace parses floats.
//! A float still gets serde_json's shortest round-trip form here, deterministic if not JCS's.
//!
//! The same bytes come from Python, which is how the golden names in the tests were computed:
//! `json.dumps(plan, sort_keys=True, separators=(',', ':'), ensure_ascii=False)`, encoded as UTF-8
//! (Python sorts by code point, which equals UTF-16 order for the ASCII member names a plan has).

use serde_json::Value;

/// `value` in canonical form (see the module docs).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(members) => {
            // Sorted here, whatever serde_json's `preserve_order` feature says in this build: the
            // name must not depend on how a binary was compiled.
            let mut names: Vec<&String> = members.keys().collect();
            names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write(&members[name], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        Value::Null | Value::Bool(_) | Value::Number(_) => out.push_str(&value.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push_str(&Value::from(s).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_sorted_at_every_level_without_whitespace() {
        assert_eq!(
            to_string(&json!({"b": [{"z": 1, "a": "x"}, true], "a": null})),
            r#"{"a":null,"b":[{"a":"x","z":1},true]}"#
        );
    }

    #[test]
    fn strings_escape_only_what_jcs_escapes() {
        // RFC 8785 §3.2.2.2: quote, backslash and controls; non-ASCII and `/` as themselves.
        assert_eq!(
            to_string(&json!("\"\\\u{8}\t\n\u{c}\r\u{1f}/é€😀")),
            "\"\\\"\\\\\\b\\t\\n\\f\\r\\u001f/é€😀\""
        );
        // Not normalised: a precomposed é and e + combining acute stay different.
        assert_ne!(to_string(&json!("\u{e9}")), to_string(&json!("e\u{301}")));
    }

    #[test]
    fn member_names_sort_by_utf16_code_units() {
        // RFC 8785 §3.2.3's example: U+20AC (0x20ac) sorts before U+1F600 (surrogates 0xd83d..),
        // which sorts before U+FB33 (0xfb33), unlike code point (UTF-8) order.
        assert_eq!(
            to_string(&json!({"\u{fb33}": 1, "😀": 2, "€": 3})),
            "{\"€\":3,\"😀\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn integers_are_their_digits() {
        assert_eq!(
            to_string(&json!([0, 25, 4_294_967_295u32])),
            "[0,25,4294967295]"
        );
    }
}
