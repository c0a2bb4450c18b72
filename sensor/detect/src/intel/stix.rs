//! The part of the STIX 2.1 patterning language indicator feeds use for network observables:
//! observation expressions joined by `OR`, each a comparison, or several joined by `OR`, of the
//! `value` of a `domain-name`, `ipv4-addr`, `ipv6-addr` or `url` object with `=` and a quoted
//! string:
//!
//! ```text
//! [domain-name:value = 'evil.example' OR ipv4-addr:value = '198.51.100.0/24'] OR [url:value = 'http://x.example/a']
//! ```
//!
//! Anything else (`AND`, other objects or properties, other operators, qualifiers such as
//! `WITHIN`) makes the whole pattern unsupported: the indicator is skipped and counted, never half
//! understood. The grammar is the STIX 2.1 specification's, section 9.

/// One `type:value = 'x'` comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Comparison {
    /// `domain-name`, `ipv4-addr`, `ipv6-addr` or `url`.
    pub(crate) object: String,
    pub(crate) value: String,
}

/// Object types whose `value` this sensor can match.
const OBJECTS: [&str; 4] = ["domain-name", "ipv4-addr", "ipv6-addr", "url"];

/// The comparisons of a pattern, or why it is not supported.
pub(crate) fn parse(pattern: &str) -> Result<Vec<Comparison>, String> {
    let mut p = Parser { rest: pattern.trim() };
    let mut out = Vec::new();
    loop {
        p.expect("[")?;
        loop {
            out.push(p.comparison()?);
            if p.eat_keyword("OR") {
                continue;
            }
            break;
        }
        p.expect("]")?;
        if p.rest.is_empty() {
            return Ok(out);
        }
        if !p.eat_keyword("OR") {
            return Err(format!("unsupported after an observation: `{}`", p.rest));
        }
    }
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        self.skip_space();
        match self.rest.strip_prefix(token) {
            Some(r) => {
                self.rest = r;
                Ok(())
            }
            None => Err(format!("expected `{token}` at `{}`", self.rest)),
        }
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(word) {
            Some(r) if r.starts_with(char::is_whitespace) || r.starts_with('[') => {
                self.rest = r;
                true
            }
            _ => false,
        }
    }

    fn comparison(&mut self) -> Result<Comparison, String> {
        self.skip_space();
        let end = self.rest.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(self.rest.len());
        let (path, rest) = self.rest.split_at(end);
        self.rest = rest;
        let Some((object, property)) = path.split_once(':') else {
            return Err(format!("`{path}` is not an object path"));
        };
        if property != "value" || !OBJECTS.contains(&object) {
            return Err(format!("unsupported object path `{path}`"));
        }
        self.expect("=")?;
        self.skip_space();
        let value = self.string()?;
        Ok(Comparison { object: object.to_owned(), value })
    }

    /// A single-quoted string with `\'` and `\\` escapes.
    fn string(&mut self) -> Result<String, String> {
        let Some(body) = self.rest.strip_prefix('\'') else {
            return Err(format!("expected a quoted string at `{}`", self.rest));
        };
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.rest = &body[i + 1..];
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => value.push(e),
                    _ => return Err("bad escape in a string".to_owned()),
                },
                c => value.push(c),
            }
        }
        Err("unterminated string".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pattern: &str) -> Vec<(String, String)> {
        parse(pattern).unwrap().into_iter().map(|c| (c.object, c.value)).collect()
    }

    #[test]
    fn equality_patterns_joined_by_or() {
        assert_eq!(values("[domain-name:value = 'evil.example']"), [("domain-name".into(), "evil.example".into())]);
        assert_eq!(
            values(
                "[ipv4-addr:value = '198.51.100.0/24' OR ipv6-addr:value='2001:db8::1'] OR [url:value = 'http://x.example/it\\'s']"
            ),
            [
                ("ipv4-addr".into(), "198.51.100.0/24".into()),
                ("ipv6-addr".into(), "2001:db8::1".into()),
                ("url".into(), "http://x.example/it's".into()),
            ]
        );
    }

    #[test]
    fn anything_else_is_refused_whole() {
        for bad in [
            "[domain-name:value = 'a.example' AND ipv4-addr:value = '192.0.2.1']",
            "[file:hashes.'SHA-256' = 'aa']",
            "[domain-name:value LIKE '%.example']",
            "[domain-name:value = 'a.example'] WITHIN 300 SECONDS",
            "[domain-name:value = 'a.example'",
            "[domain-name:value = 'unterminated]",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
