//! The analysts' reference of targeting rules (风险布控规则参考): every name, type, function and
//! limit a rule can use, rendered from the checker's own lists ([`crate::catalogue`] and the
//! limits of [`crate::rule`]) so that it cannot drift from what a rule is checked against.
//!
//! [`markdown`] is `docs/rule-reference.md` (a test regenerates it and fails when the committed
//! file differs); the service serves the same lists as JSON and `customs rules reference` prints
//! them.

use crate::catalogue::{FIELDS, FUNCTIONS, MACROS, NameType, VARIABLES};
use crate::rule;

/// A limit a rule is held to.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// The constant's name in the code, e.g. `EXPRESSION_LENGTH_MAX`.
    pub name: &'static str,
    pub value: u64,
    pub en: &'static str,
    pub zh: &'static str,
}

/// Every limit `compile` enforces, with its value.
pub const LIMITS: &[Limit] = &[
    Limit {
        name: "EXPRESSION_LENGTH_MAX",
        value: rule::EXPRESSION_LENGTH_MAX as u64,
        en: "Longest expression, in bytes",
        zh: "表达式最长字节数",
    },
    Limit {
        name: "EXPRESSION_DEPTH_MAX",
        value: rule::EXPRESSION_DEPTH_MAX as u64,
        en: "Deepest nesting of the parsed expression (macros count as they expand)",
        zh: "解析后表达式的最大嵌套层数（宏按展开后计）",
    },
    Limit {
        name: "EXPRESSION_NODES_MAX",
        value: rule::EXPRESSION_NODES_MAX as u64,
        en: "Most parts (AST nodes) in one expression",
        zh: "一个表达式最多的节点数",
    },
    Limit {
        name: "EXPRESSION_COST_MAX",
        value: rule::EXPRESSION_COST_MAX,
        en: "Highest static cost: one per part, a macro's body once per element of its list",
        zh: "静态成本上限：每个节点计 1，宏的主体按列表元素数计",
    },
    Limit {
        name: "LIST_FIELD_LENGTH_BOUND",
        value: rule::LIST_FIELD_LENGTH_BOUND,
        en: "Elements a list field is assumed to have in the cost",
        zh: "计算成本时列表字段假定的元素数",
    },
    Limit {
        name: "LIST_LITERAL_LENGTH_MAX",
        value: rule::LIST_LITERAL_LENGTH_MAX as u64,
        en: "Most elements of one list literal",
        zh: "一个列表字面量最多的元素数",
    },
    Limit {
        name: "RULE_ID_LENGTH_MAX",
        value: rule::RULE_ID_LENGTH_MAX as u64,
        en: "Longest rule id, in bytes",
        zh: "规则编号最长字节数",
    },
    Limit {
        name: "REASON_LENGTH_MAX",
        value: rule::REASON_LENGTH_MAX as u64,
        en: "Longest reason for the officer, in characters",
        zh: "给关员的布控理由最长字符数",
    },
    Limit {
        name: "SCOPE_LIST_LENGTH_MAX",
        value: rule::SCOPE_LIST_LENGTH_MAX as u64,
        en: "Most entries in one scope list (offices, procedures)",
        zh: "适用范围列表（关区、监管方式）最多的条目数",
    },
    Limit {
        name: "RULE_PROBLEMS_MAX",
        value: rule::RULE_PROBLEMS_MAX as u64,
        en: "Most problems reported for one rule (one more says how many were left out)",
        zh: "一条规则最多报告的问题数（另有一条说明省略了多少）",
    },
];

/// A cell of a Markdown table: `|` would end it, a line break would end the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn code(text: &str) -> String {
    format!("`{}`", cell(text))
}

fn type_of(ty: NameType) -> String {
    format!("{} / {}", ty.en(), ty.zh())
}

/// The reference as Markdown: `docs/rule-reference.md`, byte for byte.
pub fn markdown() -> String {
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push('\n');
    };
    line("# Targeting rule reference / 风险布控规则参考");
    line("");
    line(
        "<!-- Generated from crates/risk/src/catalogue.rs and the limits of crates/risk/src/rule.rs \
         by risk::reference::markdown(). Do not edit by hand: after changing them, run \
         `UPDATE_RULE_REFERENCE=1 cargo test -p risk --test reference`. -->",
    );
    line("");
    line(
        "A targeting rule's condition is a CEL expression that must be a bool. It is evaluated \
         once per goods item when it reads the item (`item`, or an item's feature), else once per \
         declaration. Only the names, functions and macros below are accepted; every problem of a \
         rule is reported at once, each with its position, and a misspelt name is answered with the \
         closest one (\"did you mean\"). The same lists are served by `GET /v1/rules/reference` and \
         printed by `customs rules reference`.",
    );
    line("");
    line(
        "规则条件是一个结果为布尔值的 CEL 表达式。读取商品项（`item` 或商品项的特征）时按每个商品项评估一次，\
         否则按每份报关单评估一次。只接受下列名称、函数和宏；一条规则的所有问题一次报告，各注明位置，\
         拼错的名称会提示最接近的正确名称（“您是否想写”）。同样的内容可由 `GET /v1/rules/reference` \
         获取，或由 `customs rules reference` 打印。",
    );
    line("");
    line(
        "A field marked *optional* is absent when unknown: test it with `has(...)` first, or the \
         evaluation fails (recorded, no match). Amounts are doubles: write `item.amount > 10000.0` \
         (an int literal is fine in a comparison, not in arithmetic).",
    );
    line("");
    line(
        "标为 *可选* 的字段在未知时不存在：请先用 `has(...)` 判断，否则评估失败（记录在案，不命中）。\
         金额为浮点数：请写 `item.amount > 10000.0`（比较中可用整数字面量，算术中不可）。",
    );
    line("");
    line("## Variables / 变量");
    line("");
    line("| name / 名称 | type / 类型 | meaning | 含义 | example / 示例 |");
    line("| --- | --- | --- | --- | --- |");
    for v in VARIABLES {
        line(&format!(
            "| {} | {} | {} | {} | {} |",
            code(v.name),
            type_of(v.ty),
            cell(v.en),
            cell(v.zh),
            code(v.example)
        ));
    }
    for root in VARIABLES.iter().filter(|v| v.ty == NameType::Object) {
        line("");
        line(&format!(
            "## Fields of `{}` / `{}` 的字段",
            root.name, root.name
        ));
        line("");
        line(
            "| field / 字段 | type / 类型 | optional / 可选 | per item / 按商品项 | meaning | 含义 | example / 示例 |",
        );
        line("| --- | --- | --- | --- | --- | --- | --- |");
        for f in FIELDS.iter().filter(|f| f.root == root.name) {
            let yes_no = |b: bool| if b { "yes / 是" } else { "no / 否" };
            line(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                code(&f.path()),
                type_of(f.ty),
                yes_no(f.optional),
                yes_no(f.item_level),
                cell(f.en),
                cell(f.zh),
                code(&f.example())
            ));
        }
    }
    for (title, list) in [
        ("## Functions / 函数", FUNCTIONS),
        ("## Macros and operators / 宏与运算符", MACROS),
    ] {
        line("");
        line(title);
        line("");
        line("| name / 名称 | gives / 结果 | meaning | 含义 | example / 示例 |");
        line("| --- | --- | --- | --- | --- |");
        for f in list {
            line(&format!(
                "| {} | {} | {} | {} | {} |",
                code(f.name),
                type_of(f.ty),
                cell(f.en),
                cell(f.zh),
                code(f.example)
            ));
        }
    }
    line("");
    line("## Limits / 限制");
    line("");
    line("| limit / 限制 | value / 值 | meaning | 含义 |");
    line("| --- | --- | --- | --- |");
    for l in LIMITS {
        line(&format!(
            "| {} | {} | {} | {} |",
            code(l.name),
            l.value,
            cell(l.en),
            cell(l.zh)
        ));
    }
    out
}
