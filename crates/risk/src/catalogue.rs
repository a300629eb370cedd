//! The catalogue of every name a rule may use: the variables, their fields, the functions and the
//! macros, each with its type and a description in English and Chinese.
//!
//! It is the checker's own list: `rule::field` reads a field's type, whether it may be absent and
//! whether it is the goods item's from [`FIELDS`], so what the analyst's editor shows cannot drift
//! from what a rule is checked against. Tests check the other direction: every field the
//! evaluator binds is in the catalogue, every function and macro of it compiles, and a name that
//! is not in it is refused.

/// A value's type as a rule sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameType {
    String,
    Int,
    Double,
    Bool,
    /// A list of strings (document type codes, licence codes).
    StringList,
    /// A double, or `null` when there is none (`model_score`).
    DoubleOrNull,
    /// A variable with fields (`declaration`, `item`, `features`, `party`).
    Object,
}

impl NameType {
    pub fn en(self) -> &'static str {
        match self {
            NameType::String => "string",
            NameType::Int => "int",
            NameType::Double => "double",
            NameType::Bool => "bool",
            NameType::StringList => "list of strings",
            NameType::DoubleOrNull => "double or null",
            NameType::Object => "fields",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            NameType::String => "字符串",
            NameType::Int => "整数",
            NameType::Double => "浮点数",
            NameType::Bool => "布尔值",
            NameType::StringList => "字符串列表",
            NameType::DoubleOrNull => "浮点数或 null",
            NameType::Object => "含字段",
        }
    }
}

/// A variable a rule reads.
#[derive(Clone, Copy, Debug)]
pub struct VariableName {
    pub name: &'static str,
    pub ty: NameType,
    /// A condition that reads it (for a variable with fields, through one of them).
    pub example: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

/// A field of a variable: `declaration.procedure`.
#[derive(Clone, Copy, Debug)]
pub struct FieldName {
    /// The variable: `declaration`, `item`, `features` or `party`.
    pub root: &'static str,
    pub name: &'static str,
    pub ty: NameType,
    /// Absent when unknown: test it with `has(...)` first.
    pub optional: bool,
    /// The goods item's (the rule is then evaluated per item).
    pub item_level: bool,
    /// A value it may have, as a CEL literal (`"0110"`, `40.0`); for a list, one element.
    pub value: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

impl FieldName {
    /// `root.name`, as written in a rule.
    pub fn path(&self) -> String {
        format!("{}.{}", self.root, self.name)
    }

    /// A condition that reads the field as a rule would, built from its example value: an
    /// equality for a string, a comparison for a number, `in` for a list, behind `has(...)` when
    /// the field may be absent. The tests compile every one, so the reference shows none that the
    /// checker refuses.
    pub fn example(&self) -> String {
        let path = self.path();
        let condition = match self.ty {
            NameType::StringList => format!("{} in {path}", self.value),
            NameType::Int | NameType::Double | NameType::DoubleOrNull => {
                format!("{path} >= {}", self.value)
            }
            _ => format!("{path} == {}", self.value),
        };
        if self.optional {
            format!("has({path}) && {condition}")
        } else {
            condition
        }
    }
}

/// A function, operator or macro, with an example that compiles.
#[derive(Clone, Copy, Debug)]
pub struct FunctionName {
    pub name: &'static str,
    /// What it gives.
    pub ty: NameType,
    pub example: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

const fn var(
    name: &'static str,
    ty: NameType,
    example: &'static str,
    en: &'static str,
    zh: &'static str,
) -> VariableName {
    VariableName {
        name,
        ty,
        example,
        en,
        zh,
    }
}

/// The variables a rule reads.
pub const VARIABLES: &[VariableName] = &[
    var(
        "declaration",
        NameType::Object,
        "declaration.procedure == \"0110\"",
        "The declaration's header",
        "报关单表头",
    ),
    var(
        "item",
        NameType::Object,
        "item.origin_country == \"US\"",
        "The goods item being evaluated (a rule is evaluated once per item)",
        "正在评估的商品项（规则对每个商品项各评估一次）",
    ),
    var(
        "features",
        NameType::Object,
        "features.importer_discrepancies > 0",
        "Figures derived from the item and the importer's record",
        "由商品项和进口商记录计算的特征",
    ),
    var(
        "party",
        NameType::Object,
        "party.seller_country == \"US\"",
        "The parties of the declaration",
        "报关单的相关方",
    ),
    var(
        "credit",
        NameType::String,
        "credit == \"untrustworthy\"",
        "The trader's credit level: advanced_certified, general_certified, general or untrustworthy",
        "企业信用等级：advanced_certified、general_certified、general 或 untrustworthy",
    ),
    var(
        "model_score",
        NameType::DoubleOrNull,
        "model_score != null && model_score > 0.8",
        "The active risk model's score, 0 to 1, or null when not scored",
        "启用的风险模型评分（0 至 1），未评分时为 null",
    ),
];

#[allow(clippy::too_many_arguments)] // one entry of the table below, every column named
const fn f(
    root: &'static str,
    name: &'static str,
    ty: NameType,
    optional: bool,
    item_level: bool,
    value: &'static str,
    en: &'static str,
    zh: &'static str,
) -> FieldName {
    FieldName {
        root,
        name,
        ty,
        optional,
        item_level,
        value,
        en,
        zh,
    }
}

use NameType::{Double, Int, String as Str, StringList};

/// Every field of every variable.
pub const FIELDS: &[FieldName] = &[
    f(
        "declaration",
        "direction",
        Str,
        false,
        false,
        "\"import\"",
        "\"import\" or \"export\"",
        "\"import\"（进口）或 \"export\"（出口）",
    ),
    f(
        "declaration",
        "kind",
        Str,
        false,
        false,
        "\"ordinary\"",
        "\"ordinary\", \"summary\" or \"full\"",
        "\"ordinary\"、\"summary\" 或 \"full\"（申报类型）",
    ),
    f(
        "declaration",
        "procedure",
        Str,
        false,
        false,
        "\"0110\"",
        "The customs procedure code (监管方式), e.g. \"0110\"",
        "监管方式代码，如 \"0110\"",
    ),
    f(
        "declaration",
        "office_of_lodging",
        Str,
        false,
        false,
        "\"2200\"",
        "The customs office of lodging, e.g. \"2200\"",
        "申报地海关代码，如 \"2200\"",
    ),
    f(
        "declaration",
        "office_of_entry_exit",
        Str,
        false,
        false,
        "\"2200\"",
        "The customs office of entry or exit",
        "进出境关别代码",
    ),
    f(
        "declaration",
        "transport_mode",
        Str,
        false,
        false,
        "\"2\"",
        "The transport mode code, e.g. \"2\" (sea)",
        "运输方式代码，如 \"2\"（水路运输）",
    ),
    f(
        "declaration",
        "transport_means",
        Str,
        true,
        false,
        "\"COSCO SHIPPING ARIES\"",
        "The vessel or flight",
        "运输工具名称",
    ),
    f(
        "declaration",
        "trader",
        Str,
        false,
        false,
        "\"91310115MA1H000024\"",
        "The trader's credit code (境内收发货人)",
        "境内收发货人统一社会信用代码",
    ),
    f(
        "declaration",
        "declarant",
        Str,
        false,
        false,
        "\"91310000MA1FL0001R\"",
        "The declarant's credit code (申报单位)",
        "申报单位统一社会信用代码",
    ),
    f(
        "declaration",
        "overseas_party_name",
        Str,
        false,
        false,
        "\"Pacific Electronics Inc.\"",
        "The overseas party's name",
        "境外收发货人名称",
    ),
    f(
        "declaration",
        "overseas_party_country",
        Str,
        false,
        false,
        "\"US\"",
        "The overseas party's country code",
        "境外收发货人国别代码",
    ),
    f(
        "declaration",
        "consignor",
        Str,
        true,
        false,
        "\"Pacific Electronics Inc.\"",
        "The consignor's name",
        "发货人名称",
    ),
    f(
        "declaration",
        "dispatch_country",
        Str,
        false,
        false,
        "\"US\"",
        "The country of dispatch (启运国)",
        "启运国（地区）代码",
    ),
    f(
        "declaration",
        "invoice_currency",
        Str,
        false,
        false,
        "\"USD\"",
        "The invoice currency, e.g. \"USD\"",
        "发票币制，如 \"USD\"",
    ),
    f(
        "declaration",
        "invoice_amount",
        Double,
        false,
        false,
        "10000.0",
        "The invoice total, in the invoice currency",
        "发票总金额（发票币制）",
    ),
    f(
        "declaration",
        "customs_value_cny",
        Double,
        true,
        false,
        "72000.0",
        "The customs value in CNY, once assessed",
        "完税价格（人民币，已计税时）",
    ),
    f(
        "declaration",
        "payable_cny",
        Double,
        true,
        false,
        "9600.0",
        "The total payable in CNY, once assessed",
        "应缴税费合计（人民币，已计税时）",
    ),
    f(
        "declaration",
        "item_count",
        Int,
        false,
        false,
        "2",
        "The number of goods items",
        "商品项数",
    ),
    f(
        "declaration",
        "documents",
        StringList,
        false,
        false,
        "\"INV\"",
        "The document type codes attached",
        "随附单证类型代码",
    ),
    f(
        "item",
        "index",
        Int,
        false,
        true,
        "0",
        "The item's position, from 0",
        "商品项序号（从 0 起）",
    ),
    f(
        "item",
        "commodity_code",
        Str,
        false,
        true,
        "\"8517130000\"",
        "The 10-digit commodity code (商品编号)",
        "10 位商品编号",
    ),
    f(
        "item",
        "description",
        Str,
        false,
        true,
        "\"Smartphones, 5G, 256 GB\"",
        "The goods description",
        "商品名称及规格",
    ),
    f(
        "item",
        "origin_country",
        Str,
        false,
        true,
        "\"US\"",
        "The country of origin",
        "原产国（地区）代码",
    ),
    f(
        "item",
        "quantity",
        Double,
        false,
        true,
        "40.0",
        "The declared quantity",
        "成交数量",
    ),
    f(
        "item",
        "unit",
        Str,
        false,
        true,
        "\"C62\"",
        "The unit of the declared quantity",
        "成交计量单位",
    ),
    f(
        "item",
        "statutory_quantity_1",
        Double,
        true,
        true,
        "40.0",
        "The first statutory quantity",
        "法定第一数量",
    ),
    f(
        "item",
        "statutory_unit_1",
        Str,
        true,
        true,
        "\"C62\"",
        "The first statutory unit",
        "法定第一计量单位",
    ),
    f(
        "item",
        "statutory_quantity_2",
        Double,
        true,
        true,
        "1.5",
        "The second statutory quantity",
        "法定第二数量",
    ),
    f(
        "item",
        "statutory_unit_2",
        Str,
        true,
        true,
        "\"KGM\"",
        "The second statutory unit",
        "法定第二计量单位",
    ),
    f(
        "item",
        "amount",
        Double,
        false,
        true,
        "8000.0",
        "The item's amount in the invoice currency",
        "商品总价（发票币制）",
    ),
    f(
        "item",
        "customs_value_cny",
        Double,
        true,
        true,
        "57600.0",
        "The item's customs value in CNY, once assessed",
        "商品完税价格（人民币，已计税时）",
    ),
    f(
        "item",
        "net_mass_kg",
        Double,
        true,
        true,
        "336.0",
        "The item's net mass in kg",
        "商品净重（千克）",
    ),
    f(
        "item",
        "licence_codes",
        StringList,
        false,
        true,
        "\"O\"",
        "The licence codes given for the item",
        "商品的许可证代码",
    ),
    f(
        "features",
        "unit_value",
        Double,
        true,
        true,
        "200.0",
        "Amount per unit of quantity",
        "单价（金额 / 数量）",
    ),
    f(
        "features",
        "unit_value_cny",
        Double,
        true,
        true,
        "1440.0",
        "Customs value per unit in CNY",
        "人民币单价（完税价格 / 数量）",
    ),
    f(
        "features",
        "value_per_kg",
        Double,
        true,
        true,
        "23.8",
        "Amount per kg of net mass",
        "每千克金额",
    ),
    f(
        "features",
        "value_per_kg_cny",
        Double,
        true,
        true,
        "171.4",
        "Customs value per kg in CNY",
        "每千克人民币完税价格",
    ),
    f(
        "features",
        "reference_price_ratio",
        Double,
        true,
        true,
        "0.5",
        "Declared unit value over the value-control reference price",
        "申报单价与价格管控参考价之比",
    ),
    f(
        "features",
        "importer_declarations_365d",
        Int,
        false,
        false,
        "12",
        "The importer's declarations in the last 365 days",
        "进口商近 365 天的报关单数",
    ),
    f(
        "features",
        "importer_discrepancies",
        Int,
        false,
        false,
        "1",
        "Discrepancies found on the importer's checks",
        "进口商查验中发现的差错数",
    ),
    f(
        "party",
        "trader",
        Str,
        false,
        false,
        "\"91310115MA1H000024\"",
        "The trader's credit code",
        "境内收发货人统一社会信用代码",
    ),
    f(
        "party",
        "declarant",
        Str,
        false,
        false,
        "\"91310000MA1FL0001R\"",
        "The declarant's credit code",
        "申报单位统一社会信用代码",
    ),
    f(
        "party",
        "seller",
        Str,
        false,
        false,
        "\"Pacific Electronics Inc.\"",
        "The overseas party's name",
        "境外收发货人名称",
    ),
    f(
        "party",
        "seller_country",
        Str,
        false,
        false,
        "\"US\"",
        "The overseas party's country code",
        "境外收发货人国别代码",
    ),
    f(
        "party",
        "consignor",
        Str,
        true,
        false,
        "\"Pacific Electronics Inc.\"",
        "The consignor's name",
        "发货人名称",
    ),
    f(
        "party",
        "transport_means",
        Str,
        true,
        false,
        "\"COSCO SHIPPING ARIES\"",
        "The vessel or flight",
        "运输工具名称",
    ),
];

const fn func(
    name: &'static str,
    ty: NameType,
    example: &'static str,
    en: &'static str,
    zh: &'static str,
) -> FunctionName {
    FunctionName {
        name,
        ty,
        example,
        en,
        zh,
    }
}

/// The functions a rule may call (the checker refuses any other).
pub const FUNCTIONS: &[FunctionName] = &[
    func(
        "startsWith",
        NameType::Bool,
        "item.commodity_code.startsWith(\"8517\")",
        "Whether a string starts with another",
        "字符串是否以另一字符串开头",
    ),
    func(
        "endsWith",
        NameType::Bool,
        "declaration.transport_mode.endsWith(\"2\")",
        "Whether a string ends with another",
        "字符串是否以另一字符串结尾",
    ),
    func(
        "contains",
        NameType::Bool,
        "item.description.contains(\"battery\")",
        "Whether a string contains another",
        "字符串是否包含另一字符串",
    ),
    func(
        "size",
        NameType::Int,
        "size(declaration.documents) == 0",
        "The length of a string or list",
        "字符串或列表的长度",
    ),
    func(
        "int",
        NameType::Int,
        "int(item.quantity) > 100",
        "Converts to an int",
        "转换为整数",
    ),
    func(
        "double",
        NameType::Double,
        "double(declaration.item_count) > 2.0",
        "Converts to a double",
        "转换为浮点数",
    ),
    func(
        "string",
        NameType::String,
        "string(declaration.item_count) == \"1\"",
        "Converts to a string",
        "转换为字符串",
    ),
];

/// The macros and list operators a rule may use.
pub const MACROS: &[FunctionName] = &[
    func(
        "has",
        NameType::Bool,
        "has(item.net_mass_kg) && item.net_mass_kg > 1000.0",
        "Whether an optional field is present",
        "可选字段是否存在",
    ),
    func(
        "in",
        NameType::Bool,
        "item.origin_country in [\"US\", \"CA\"]",
        "Whether a value is in a list",
        "值是否在列表中",
    ),
    func(
        "exists",
        NameType::Bool,
        "declaration.documents.exists(d, d == \"Y\")",
        "Whether some element of a list satisfies a condition",
        "列表中是否有元素满足条件",
    ),
    func(
        "all",
        NameType::Bool,
        "item.licence_codes.all(c, c.startsWith(\"A\"))",
        "Whether every element of a list satisfies a condition",
        "列表中是否所有元素都满足条件",
    ),
];

/// The field `root.name`, if a rule may read it.
pub fn field(root: &str, name: &str) -> Option<&'static FieldName> {
    FIELDS.iter().find(|f| f.root == root && f.name == name)
}

/// The variable `name`, if a rule may read it.
pub fn variable(name: &str) -> Option<&'static VariableName> {
    VARIABLES.iter().find(|v| v.name == name)
}
