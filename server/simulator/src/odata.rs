//! The OData subset of the delegatedAdminCustomers list: `$filter`, `$select`, `$top`, `$skip`,
//! `$count` and `$orderBy`, parsed up front so every mistake is a clear 400.
//!
//! String comparisons ignore case (as Entra's directory queries do).

use std::cmp::Ordering;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::data::Customer;
use crate::timefmt::parse_datetime;

/// `$top` when absent, and its documented maximum.
pub(crate) const DEFAULT_TOP: usize = 100;
pub(crate) const MAX_TOP: usize = 300;
/// Bounds that keep hostile filters cheap and the recursive parser's stack small.
const MAX_FILTER_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

/// A property of the delegatedAdminCustomer resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Property {
    Id,
    CustomerTenantId,
    OrganizationDisplayName,
    PartnerAgentCount,
    PartnerSignInCount,
    GlobalAdminSignInCount,
    DapEnabled,
    StartDateTime,
    EndDateTime,
    LastSignInDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Guid,
    Text,
    Int,
    Bool,
    DateTime,
}

impl Property {
    /// All properties, in the order the resource is serialised.
    pub(crate) const ALL: [Property; 10] = [
        Property::Id,
        Property::CustomerTenantId,
        Property::OrganizationDisplayName,
        Property::PartnerAgentCount,
        Property::PartnerSignInCount,
        Property::GlobalAdminSignInCount,
        Property::DapEnabled,
        Property::StartDateTime,
        Property::EndDateTime,
        Property::LastSignInDateTime,
    ];

    /// Properties `$orderBy` accepts (documented list).
    const SORTABLE: [Property; 4] = [
        Property::OrganizationDisplayName,
        Property::DapEnabled,
        Property::StartDateTime,
        Property::LastSignInDateTime,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Property::Id => "id",
            Property::CustomerTenantId => "customerTenantId",
            Property::OrganizationDisplayName => "organizationDisplayName",
            Property::PartnerAgentCount => "partnerAgentCount",
            Property::PartnerSignInCount => "partnerSignInCount",
            Property::GlobalAdminSignInCount => "globalAdminSignInCount",
            Property::DapEnabled => "dapEnabled",
            Property::StartDateTime => "startDateTime",
            Property::EndDateTime => "endDateTime",
            Property::LastSignInDateTime => "lastSignInDateTime",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    fn kind(self) -> Kind {
        match self {
            Property::Id | Property::CustomerTenantId => Kind::Guid,
            Property::OrganizationDisplayName => Kind::Text,
            Property::PartnerAgentCount
            | Property::PartnerSignInCount
            | Property::GlobalAdminSignInCount => Kind::Int,
            Property::DapEnabled => Kind::Bool,
            Property::StartDateTime | Property::EndDateTime | Property::LastSignInDateTime => {
                Kind::DateTime
            }
        }
    }

    fn nullable(self) -> bool {
        matches!(self, Property::EndDateTime | Property::LastSignInDateTime)
    }

    fn value(self, c: &Customer) -> Field<'_> {
        match self {
            Property::Id | Property::CustomerTenantId => Field::Guid(c.tenant_id),
            Property::OrganizationDisplayName => Field::Text(&c.name_folded),
            Property::PartnerAgentCount => Field::Int(i64::from(c.partner_agent_count)),
            Property::PartnerSignInCount => Field::Int(i64::from(c.partner_sign_in_count)),
            Property::GlobalAdminSignInCount => Field::Int(i64::from(c.global_admin_sign_in_count)),
            Property::DapEnabled => Field::Bool(c.dap_enabled),
            Property::StartDateTime => Field::DateTime(Some(c.start)),
            Property::EndDateTime => Field::DateTime(c.end),
            Property::LastSignInDateTime => Field::DateTime(c.last_sign_in),
        }
    }
}

/// A property's value on one customer.
enum Field<'a> {
    Guid(Uuid),
    Text(&'a str),
    Int(i64),
    Bool(bool),
    DateTime(Option<OffsetDateTime>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            _ => return None,
        })
    }

    fn ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StrFunc {
    Contains,
    StartsWith,
    EndsWith,
}

/// A literal, already converted to the compared property's type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Literal {
    Null,
    Guid(Uuid),
    /// Lower-cased.
    Text(String),
    Int(i64),
    Bool(bool),
    DateTime(OffsetDateTime),
}

/// A parsed `$filter` expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare {
        property: Property,
        op: CmpOp,
        literal: Literal,
    },
    Function {
        func: StrFunc,
        property: Property,
        /// Lower-cased.
        needle: String,
    },
}

impl Filter {
    pub(crate) fn matches(&self, c: &Customer) -> bool {
        match self {
            Filter::And(a, b) => a.matches(c) && b.matches(c),
            Filter::Or(a, b) => a.matches(c) || b.matches(c),
            Filter::Not(a) => !a.matches(c),
            Filter::Compare {
                property,
                op,
                literal,
            } => compare(property.value(c), *op, literal),
            Filter::Function {
                func,
                property,
                needle,
            } => {
                let guid;
                let haystack = match property.value(c) {
                    Field::Text(t) => t,
                    Field::Guid(g) => {
                        guid = g.to_string();
                        guid.as_str()
                    }
                    _ => return false,
                };
                match func {
                    StrFunc::Contains => haystack.contains(needle.as_str()),
                    StrFunc::StartsWith => haystack.starts_with(needle.as_str()),
                    StrFunc::EndsWith => haystack.ends_with(needle.as_str()),
                }
            }
        }
    }
}

fn compare(field: Field<'_>, op: CmpOp, literal: &Literal) -> bool {
    let ord = match (field, literal) {
        (Field::DateTime(None), Literal::Null) => Ordering::Equal,
        (Field::DateTime(Some(_)), Literal::Null) => Ordering::Greater,
        // null compared with a value: only `ne` holds (OData semantics).
        (Field::DateTime(None), _) => return op == CmpOp::Ne,
        (Field::DateTime(Some(v)), Literal::DateTime(l)) => v.cmp(l),
        (Field::Guid(v), Literal::Guid(l)) => v.cmp(l),
        (Field::Text(v), Literal::Text(l)) => v.cmp(l.as_str()),
        (Field::Int(v), Literal::Int(l)) => v.cmp(l),
        (Field::Bool(v), Literal::Bool(l)) => v.cmp(l),
        // Non-nullable properties are never null.
        (_, Literal::Null) => return op == CmpOp::Ne,
        _ => return false,
    };
    op.holds(ord)
}

/// Parsed query options of one list call.
#[derive(Debug)]
pub(crate) struct QueryOptions {
    pub filter: Option<Filter>,
    pub select: Option<Vec<Property>>,
    pub top: usize,
    pub skip: usize,
    pub count: bool,
    pub order_by: Vec<(Property, bool)>,
    /// The query's parameters in their original order (for `@odata.nextLink`).
    pub pairs: Vec<(String, String)>,
}

impl QueryOptions {
    /// Parses the raw query string; the error is the message of a 400.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, String> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let mut options = QueryOptions {
            filter: None,
            select: None,
            top: DEFAULT_TOP,
            skip: 0,
            count: false,
            order_by: Vec::new(),
            pairs: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in &pairs {
            if !name.starts_with('$') {
                continue;
            }
            let key = name.to_ascii_lowercase();
            if seen.contains(&key) {
                return Err(format!(
                    "The query option '{name}' is specified more than once."
                ));
            }
            seen.push(key.clone());
            match key.as_str() {
                "$filter" => options.filter = Some(parse_filter(value)?),
                "$select" => options.select = Some(parse_select(value)?),
                "$top" => {
                    options.top = value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|t| (1..=MAX_TOP).contains(t))
                        .ok_or_else(|| {
                            format!(
                                "The value '{value}' of $top is invalid: it must be an integer \
                                 between 1 and {MAX_TOP}."
                            )
                        })?;
                }
                "$skip" => {
                    options.skip = value.trim().parse::<usize>().map_err(|_| {
                        format!(
                            "The value '{value}' of $skip is invalid: it must be a non-negative \
                             integer."
                        )
                    })?;
                }
                "$count" => {
                    options.count = match value.trim().to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "The value '{value}' of $count is invalid: use true or false."
                            ))
                        }
                    };
                }
                "$orderby" => options.order_by = parse_order_by(value)?,
                _ => {
                    return Err(format!(
                        "The query option '{name}' is not supported. Supported: $filter, \
                         $select, $top, $skip, $count, $orderBy."
                    ))
                }
            }
        }
        options.pairs = pairs;
        Ok(options)
    }

    /// Orders customers by `$orderBy`; ties keep generation order (the sort is stable).
    pub(crate) fn sort(&self, customers: &mut [&Customer]) {
        if self.order_by.is_empty() {
            return;
        }
        customers.sort_by(|a, b| {
            for (property, descending) in &self.order_by {
                let ord = order_key(*property, a, b);
                let ord = if *descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
    }

    /// The query string of the next page: the same parameters with `$skip` advanced.
    pub(crate) fn next_query(&self, next_skip: usize) -> String {
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        let mut replaced = false;
        for (name, value) in &self.pairs {
            if name.eq_ignore_ascii_case("$skip") {
                serializer.append_pair(name, &next_skip.to_string());
                replaced = true;
            } else {
                serializer.append_pair(name, value);
            }
        }
        if !replaced {
            serializer.append_pair("$skip", &next_skip.to_string());
        }
        // `+` for spaces is valid in a query, but `%20` survives every client's re-encoding;
        // a literal `+` was already encoded as `%2B`. `$` needs no escaping.
        serializer.finish().replace('+', "%20").replace("%24", "$")
    }
}

/// Null sorts first ascending, like OData.
fn order_key(property: Property, a: &Customer, b: &Customer) -> Ordering {
    match property {
        Property::OrganizationDisplayName => a
            .name_folded
            .cmp(&b.name_folded)
            .then_with(|| a.display_name.cmp(&b.display_name)),
        Property::DapEnabled => a.dap_enabled.cmp(&b.dap_enabled),
        Property::StartDateTime => a.start.cmp(&b.start),
        Property::LastSignInDateTime => a.last_sign_in.cmp(&b.last_sign_in),
        Property::EndDateTime => a.end.cmp(&b.end),
        _ => Ordering::Equal,
    }
}

fn parse_select(value: &str) -> Result<Vec<Property>, String> {
    let mut selected = Vec::new();
    for name in value.split(',').map(str::trim) {
        let property = Property::parse(name).ok_or_else(|| {
            format!(
                "Invalid $select: '{name}' is not a property of delegatedAdminCustomer. \
                 Properties: {}.",
                Property::ALL.map(Property::name).join(", ")
            )
        })?;
        if !selected.contains(&property) {
            selected.push(property);
        }
    }
    Ok(selected)
}

fn parse_order_by(value: &str) -> Result<Vec<(Property, bool)>, String> {
    let allowed = || Property::SORTABLE.map(Property::name).join(", ");
    let mut keys = Vec::new();
    for item in value.split(',') {
        let mut words = item.split_whitespace();
        let name = words.next().ok_or_else(|| {
            format!(
                "Invalid $orderBy '{value}': an empty sort key. Allowed: {}.",
                allowed()
            )
        })?;
        let property = Property::parse(name)
            .filter(|p| Property::SORTABLE.contains(p))
            .ok_or_else(|| {
                format!(
                    "Invalid $orderBy: sorting by '{name}' is not supported. Allowed: {}.",
                    allowed()
                )
            })?;
        let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(format!(
                    "Invalid $orderBy: '{other}' after '{name}'; use asc or desc."
                ))
            }
        };
        if let Some(extra) = words.next() {
            return Err(format!("Invalid $orderBy: unexpected '{extra}'."));
        }
        keys.push((property, descending));
    }
    Ok(keys)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    Comma,
    Quoted(String),
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            ',' => {
                chars.next();
                tokens.push(Token::Comma);
            }
            '\'' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => s.push(c),
                        None => {
                            return Err("Invalid $filter: a string literal is not closed (quote a \
                                 single quote as '')."
                                .to_owned())
                        }
                    }
                }
                tokens.push(Token::Quoted(s));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | ',' | '\'') {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    if text.len() > MAX_FILTER_LEN {
        return Err(format!(
            "Invalid $filter: longer than {MAX_FILTER_LEN} characters."
        ));
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("Invalid $filter: the expression is empty.".to_owned());
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let filter = parser.or()?;
    if let Some(token) = parser.peek() {
        return Err(format!(
            "Invalid $filter: unexpected {} after a complete expression (combine conditions \
             with 'and' / 'or').",
            describe(token)
        ));
    }
    Ok(filter)
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "'('".to_owned(),
        Token::Close => "')'".to_owned(),
        Token::Comma => "','".to_owned(),
        Token::Quoted(s) => format!("the string '{s}'"),
        Token::Word(w) => format!("'{w}'"),
    }
}

const SUPPORTED: &str = "Supported: dapEnabled eq true|false, organizationDisplayName eq|ne \
    '…', contains|startswith|endswith(organizationDisplayName,'…'), lastSignInDateTime eq|ne \
    null, startDateTime|endDateTime|lastSignInDateTime eq|ne|lt|le|gt|ge <date-time>, \
    customerTenantId eq '…', combined with and, or, not and parentheses.";

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, expected: Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if t == expected => Ok(()),
            Some(t) => Err(format!(
                "Invalid $filter: expected {what}, found {}.",
                describe(&t)
            )),
            None => Err(format!("Invalid $filter: expected {what} at the end.")),
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "Invalid $filter: nested deeper than {MAX_DEPTH} levels."
            ));
        }
        let result = if self.keyword("not") {
            self.unary().map(|f| Filter::Not(Box::new(f)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        result
    }

    fn primary(&mut self) -> Result<Filter, String> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(Token::Close, "')'")?;
                Ok(inner)
            }
            Some(Token::Word(word)) => {
                if matches!(self.peek(), Some(Token::Open)) {
                    self.function(&word)
                } else {
                    self.comparison(&word)
                }
            }
            Some(token) => Err(format!(
                "Invalid $filter: expected a condition, found {}. {SUPPORTED}",
                describe(&token)
            )),
            None => Err(format!(
                "Invalid $filter: the expression ends where a condition was expected. {SUPPORTED}"
            )),
        }
    }

    fn property(name: &str) -> Result<Property, String> {
        Property::parse(name).ok_or_else(|| {
            format!("Invalid $filter: '{name}' is not a filterable property. {SUPPORTED}")
        })
    }

    fn function(&mut self, name: &str) -> Result<Filter, String> {
        let func = match name.to_ascii_lowercase().as_str() {
            "contains" => StrFunc::Contains,
            "startswith" => StrFunc::StartsWith,
            "endswith" => StrFunc::EndsWith,
            _ => {
                return Err(format!(
                    "Invalid $filter: the function '{name}' is not supported. {SUPPORTED}"
                ))
            }
        };
        self.expect(Token::Open, "'('")?;
        let property = match self.next() {
            Some(Token::Word(w)) => Self::property(&w)?,
            _ => {
                return Err(format!(
                    "Invalid $filter: {name}() takes a property name first."
                ))
            }
        };
        if !matches!(property.kind(), Kind::Text | Kind::Guid) {
            return Err(format!(
                "Invalid $filter: {name}() applies to text properties, not '{}'.",
                property.name()
            ));
        }
        self.expect(Token::Comma, "','")?;
        let needle = match self.next() {
            Some(Token::Quoted(s)) => s.to_lowercase(),
            _ => {
                return Err(format!(
                    "Invalid $filter: {name}() takes a quoted string second, e.g. \
                     {name}(organizationDisplayName,'contoso')."
                ))
            }
        };
        self.expect(Token::Close, "')'")?;
        Ok(Filter::Function {
            func,
            property,
            needle,
        })
    }

    fn comparison(&mut self, name: &str) -> Result<Filter, String> {
        let property = Self::property(name)?;
        let op = match self.next() {
            Some(Token::Word(w)) => CmpOp::parse(&w).ok_or_else(|| {
                format!(
                    "Invalid $filter: '{w}' is not a comparison operator (eq, ne, lt, le, gt, ge)."
                )
            })?,
            Some(t) => {
                return Err(format!(
                    "Invalid $filter: expected an operator after '{name}', found {}.",
                    describe(&t)
                ))
            }
            None => {
                return Err(format!(
                    "Invalid $filter: '{name}' must be followed by an operator and a value."
                ))
            }
        };
        let token = self
            .next()
            .ok_or_else(|| format!("Invalid $filter: a value is missing after '{name}'."))?;
        let literal = literal_for(property, &token)?;
        if op.ordering() {
            if literal == Literal::Null {
                return Err(format!(
                    "Invalid $filter: null can only be compared with eq or ne ('{name}')."
                ));
            }
            if matches!(property.kind(), Kind::Guid | Kind::Bool) {
                return Err(format!(
                    "Invalid $filter: '{}' supports only eq and ne.",
                    property.name()
                ));
            }
        }
        Ok(Filter::Compare {
            property,
            op,
            literal,
        })
    }
}

/// Converts a literal token to `property`'s type, or explains the mismatch.
fn literal_for(property: Property, token: &Token) -> Result<Literal, String> {
    let name = property.name();
    if matches!(token, Token::Word(w) if w.eq_ignore_ascii_case("null")) {
        return if property.nullable() || property.kind() != Kind::DateTime {
            Ok(Literal::Null)
        } else {
            Err(format!("Invalid $filter: '{name}' is never null."))
        };
    }
    let (text, quoted) = match token {
        Token::Quoted(s) => (s.as_str(), true),
        Token::Word(w) => (w.as_str(), false),
        other => {
            return Err(format!(
                "Invalid $filter: expected a value for '{name}', found {}.",
                describe(other)
            ))
        }
    };
    match property.kind() {
        Kind::Text if quoted => Ok(Literal::Text(text.to_lowercase())),
        Kind::Text => Err(format!(
            "Invalid $filter: compare '{name}' with a quoted string such as '{text}' \
             (double any single quote inside)."
        )),
        Kind::Guid => Uuid::parse_str(text)
            .map(Literal::Guid)
            .map_err(|_| format!("Invalid $filter: '{text}' is not a GUID (property '{name}').")),
        Kind::Int if !quoted => text
            .parse()
            .map(Literal::Int)
            .map_err(|_| format!("Invalid $filter: '{name}' expects an integer, not '{text}'.")),
        Kind::Int => Err(format!(
            "Invalid $filter: '{name}' expects an integer, not a string."
        )),
        Kind::Bool => match (quoted, text.to_ascii_lowercase().as_str()) {
            (false, "true") => Ok(Literal::Bool(true)),
            (false, "false") => Ok(Literal::Bool(false)),
            _ => Err(format!(
                "Invalid $filter: '{name}' is a boolean: compare it with true or false."
            )),
        },
        Kind::DateTime => parse_datetime(text).map(Literal::DateTime).ok_or_else(|| {
            format!(
                "Invalid $filter: '{text}' is not a date-time for '{name}'; use ISO 8601 such \
                 as 2024-01-31T00:00:00Z."
            )
        }),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;
    use crate::data::generate_customers;
    use time::macros::datetime;

    fn customers() -> Vec<Customer> {
        let mut list = generate_customers(42, 400, datetime!(2026-03-01 12:00 UTC));
        list[0].display_name = "O'Brien & Daughters Ltd".into();
        list[0].name_folded = list[0].display_name.to_lowercase();
        list
    }

    fn select(filter: &str, list: &[Customer]) -> Vec<usize> {
        let f = parse_filter(filter).unwrap();
        list.iter()
            .filter(|c| f.matches(c))
            .map(|c| c.index)
            .collect()
    }

    #[test]
    fn filters_select_the_right_customers() {
        let list = customers();
        let dap = select("dapEnabled eq true", &list);
        assert_eq!(dap.len(), list.iter().filter(|c| c.dap_enabled).count());
        let not_dap = select("dapEnabled eq false", &list);
        assert_eq!(dap.len() + not_dap.len(), list.len());
        assert_eq!(
            select(
                "organizationDisplayName eq 'o''brien & daughters ltd'",
                &list
            ),
            vec![0]
        );
        assert!(select("contains(organizationDisplayName,'BRIEN')", &list).contains(&0));
        assert!(select("startswith(organizationDisplayName,'O''Br')", &list).contains(&0));
        let never = select("lastSignInDateTime eq null", &list);
        assert_eq!(
            never.len(),
            list.iter().filter(|c| c.last_sign_in.is_none()).count()
        );
        let cutoff = datetime!(2025-12-01 0:00 UTC);
        let old = select("lastSignInDateTime lt 2025-12-01T00:00:00Z", &list);
        assert_eq!(
            old.len(),
            list.iter()
                .filter(|c| c.last_sign_in.is_some_and(|t| t < cutoff))
                .count()
        );
        let stale = select(
            "dapEnabled eq true and (lastSignInDateTime eq null or lastSignInDateTime le 2025-12-01)",
            &list,
        );
        assert!(stale.iter().all(|i| list[*i].dap_enabled));
        assert!(!stale.is_empty());
        let id = list[5].tenant_id;
        assert_eq!(
            select(&format!("customerTenantId eq '{id}'"), &list),
            vec![5]
        );
        assert_eq!(select(&format!("id eq {id}"), &list), vec![5]);
        let negated = select("not (dapEnabled eq true)", &list);
        assert_eq!(negated, not_dap);
    }

    #[test]
    fn bad_filters_are_rejected_with_a_message() {
        for bad in [
            "",
            "dapEnabled",
            "dapEnabled eq",
            "dapEnabled eq 'true'",
            "dapEnabled lt true",
            "foo eq 1",
            "organizationDisplayName eq contoso",
            "organizationDisplayName eq 'unterminated",
            "substringof('x', organizationDisplayName)",
            "lastSignInDateTime lt null",
            "lastSignInDateTime gt yesterday",
            "customerTenantId eq 'not-a-guid'",
            "(dapEnabled eq true",
            "dapEnabled eq true dapEnabled eq false",
            "startDateTime eq null",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad:?} should be rejected");
        }
        let deep = format!("{}dapEnabled eq true{}", "(".repeat(200), ")".repeat(200));
        assert!(parse_filter(&deep).is_err());
        let long = format!("organizationDisplayName eq '{}'", "a".repeat(5000));
        assert!(parse_filter(&long).is_err());
    }

    #[test]
    fn query_options_are_validated() {
        assert!(QueryOptions::parse(Some("$top=301")).is_err());
        assert!(QueryOptions::parse(Some("$top=0")).is_err());
        assert!(QueryOptions::parse(Some("$top=abc")).is_err());
        assert!(QueryOptions::parse(Some("$skip=-1")).is_err());
        assert!(QueryOptions::parse(Some("$count=yes")).is_err());
        assert!(QueryOptions::parse(Some("$orderBy=partnerAgentCount")).is_err());
        assert!(QueryOptions::parse(Some("$orderBy=startDateTime sideways")).is_err());
        assert!(QueryOptions::parse(Some("$expand=x")).is_err());
        assert!(QueryOptions::parse(Some("$top=5&$top=6")).is_err());
        assert!(QueryOptions::parse(Some("$select=id,bogus")).is_err());
        let o = QueryOptions::parse(Some(
            "$top=300&$skip=10&$count=true&$orderby=lastSignInDateTime%20desc,organizationDisplayName&$select=id,dapEnabled&other=1",
        ))
        .unwrap();
        assert_eq!((o.top, o.skip, o.count), (300, 10, true));
        assert_eq!(
            o.order_by,
            vec![
                (Property::LastSignInDateTime, true),
                (Property::OrganizationDisplayName, false)
            ]
        );
        assert_eq!(o.select, Some(vec![Property::Id, Property::DapEnabled]));
    }

    #[test]
    fn next_query_advances_skip_and_keeps_the_rest() {
        let o = QueryOptions::parse(Some(
            "$filter=contains(organizationDisplayName,'a b')&$top=5",
        ))
        .unwrap();
        let q = o.next_query(5);
        assert_eq!(
            q,
            "$filter=contains%28organizationDisplayName%2C%27a%20b%27%29&$top=5&$skip=5"
        );
        let again = QueryOptions::parse(Some(&q)).unwrap();
        assert_eq!(again.skip, 5);
        assert_eq!(again.filter, o.filter);
    }

    #[test]
    fn sorting_puts_nulls_first_and_is_stable() {
        let list = customers();
        let o = QueryOptions::parse(Some("$orderBy=lastSignInDateTime")).unwrap();
        let mut refs: Vec<&Customer> = list.iter().collect();
        o.sort(&mut refs);
        assert!(refs[0].last_sign_in.is_none());
        assert!(refs
            .windows(2)
            .all(|w| w[0].last_sign_in <= w[1].last_sign_in));
        let nulls: Vec<usize> = refs
            .iter()
            .take_while(|c| c.last_sign_in.is_none())
            .map(|c| c.index)
            .collect();
        assert!(nulls.windows(2).all(|w| w[0] < w[1]));
    }
}
