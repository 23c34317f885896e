//! `${var}` substitution and variables that refer to other variables.

use std::collections::BTreeMap;

use super::DescriptorError;

/// Resolves variables whose values refer to other variables (`dir = "${root}/x"`), in any
/// order; a cycle or an undefined reference is an error on the variable `field_of` names.
pub(super) fn resolve_variables(
    raw: &BTreeMap<String, String>,
    field_of: impl Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, DescriptorError> {
    let mut done = BTreeMap::new();
    for name in raw.keys() {
        let mut stack = Vec::new();
        resolve_variable(name, raw, &mut done, &mut stack)
            .map_err(|reason| DescriptorError::new(field_of(name), reason))?;
    }
    Ok(done)
}

fn resolve_variable(
    name: &str,
    raw: &BTreeMap<String, String>,
    done: &mut BTreeMap<String, String>,
    stack: &mut Vec<String>,
) -> Result<String, String> {
    if let Some(value) = done.get(name) {
        return Ok(value.clone());
    }
    if stack.iter().any(|s| s == name) {
        stack.push(name.to_owned());
        return Err(format!(
            "variable '{name}' refers to itself ({})",
            stack.join(" -> ")
        ));
    }
    let text = raw
        .get(name)
        .ok_or_else(|| format!("undefined variable '${{{name}}}'"))?;
    stack.push(name.to_owned());
    let value = substitute_with(text, |n| resolve_variable(n, raw, done, stack))?;
    stack.pop();
    done.insert(name.to_owned(), value.clone());
    Ok(value)
}

/// Replaces `${var}`; `$$` is a literal `$`. An undefined variable is an error.
pub(super) fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    substitute_with(text, |name| {
        vars.get(name)
            .cloned()
            .ok_or_else(|| format!("undefined variable '${{{name}}}'"))
    })
}

/// [`substitute`] with the values coming from `lookup`.
fn substitute_with(
    text: &str,
    mut lookup: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed '${{' in '{text}'"))?;
            out.push_str(&lookup(&body[..end])?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}
