//! template.yaml as JSON in CloudFormation's long form: a short-form tag (`!Ref X`, `!Sub s`,
//! `!GetAtt A.B`) becomes the one-key object CloudFormation documents as its equivalent
//! (`{"Ref": "X"}`, `{"Fn::Sub": "s"}`, `{"Fn::GetAtt": "A.B"}`), so one resolver handles both
//! spellings. (CloudFormation User Guide, "Intrinsic function reference": each function's
//! "Declaration" gives the full name and the YAML short form.)

use serde_json::{Map, Value};

use crate::TemplateError;

/// Parses `text` as YAML (anchors and aliases expanded) into long-form JSON.
pub(crate) fn parse(text: &str) -> Result<Value, TemplateError> {
    let yaml: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| TemplateError::Yaml(e.to_string()))?;
    to_json(yaml, "")
}

/// The long-form key of a short-form tag.
fn long_form(tag: &str) -> String {
    match tag {
        "Ref" => "Ref".to_owned(),
        // `!Condition X` is `{"Condition": "X"}` (used inside Fn::And, Fn::Or, Fn::Not).
        "Condition" => "Condition".to_owned(),
        other => format!("Fn::{other}"),
    }
}

fn to_json(v: serde_norway::Value, path: &str) -> Result<Value, TemplateError> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).map_err(|e| TemplateError::Invalid {
            path: path.to_owned(),
            message: format!("number out of range: {e}"),
        })?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => {
                        return Err(TemplateError::Invalid {
                            path: path.to_owned(),
                            message: format!("a mapping key must be a scalar, found {other:?}"),
                        });
                    }
                };
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                out.insert(key, to_json(v, &child)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let mut out = Map::new();
            out.insert(long_form(name), to_json(t.value, path)?);
            Value::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn short_forms_become_long_forms() {
        let v = parse(
            "a: !Ref X\nb: !GetAtt F.Arn\nc: !Sub '${AWS::Region}'\nd: !If [C, 1, 2]\ne: !Not [!Condition C]\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "a": {"Ref": "X"},
                "b": {"Fn::GetAtt": "F.Arn"},
                "c": {"Fn::Sub": "${AWS::Region}"},
                "d": {"Fn::If": ["C", 1, 2]},
                "e": {"Fn::Not": [{"Condition": "C"}]},
            })
        );
    }

    #[test]
    fn anchors_are_expanded() {
        let v = parse("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(v, json!({"a": [1, 2], "b": [1, 2]}));
    }
}
