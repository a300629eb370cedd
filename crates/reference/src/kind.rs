use std::fmt;

/// The code lists a declaration is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CodeListKind {
    /// ISO 3166-1 alpha-2 country codes (origin, destination, trading country).
    Country,
    /// ISO 4217 alphabetic currency codes.
    Currency,
    /// UNECE Recommendation 20 units of measure.
    Unit,
    /// UNECE Recommendation 21 package types.
    PackageType,
    /// Harmonized System 6-digit subheadings.
    HsSubheading,
    /// Customs offices (China: 关区代码).
    CustomsOffice,
    /// Customs procedures (China: 监管方式).
    CustomsProcedure,
    /// Levy natures (China: 征免性质), declared per declaration.
    LevyNature,
    /// Levy modes (China: 征免方式), declared per goods item.
    LevyMode,
    /// Modes of transport (China: 运输方式).
    TransportMode,
    /// Supporting documents and licences (China: 监管证件 plus platform-own commercial documents).
    DocumentType,
    /// Incoterms trade terms.
    Incoterm,
}

impl CodeListKind {
    /// Every kind, in declaration order, so callers can check that a release covers them all.
    pub const ALL: [CodeListKind; 12] = [
        CodeListKind::Country,
        CodeListKind::Currency,
        CodeListKind::Unit,
        CodeListKind::PackageType,
        CodeListKind::HsSubheading,
        CodeListKind::CustomsOffice,
        CodeListKind::CustomsProcedure,
        CodeListKind::LevyNature,
        CodeListKind::LevyMode,
        CodeListKind::TransportMode,
        CodeListKind::DocumentType,
        CodeListKind::Incoterm,
    ];

    /// A stable snake_case name for messages and logs.
    pub fn name(self) -> &'static str {
        match self {
            CodeListKind::Country => "country",
            CodeListKind::Currency => "currency",
            CodeListKind::Unit => "unit",
            CodeListKind::PackageType => "package_type",
            CodeListKind::HsSubheading => "hs_subheading",
            CodeListKind::CustomsOffice => "customs_office",
            CodeListKind::CustomsProcedure => "customs_procedure",
            CodeListKind::LevyNature => "levy_nature",
            CodeListKind::LevyMode => "levy_mode",
            CodeListKind::TransportMode => "transport_mode",
            CodeListKind::DocumentType => "document_type",
            CodeListKind::Incoterm => "incoterm",
        }
    }
}

impl fmt::Display for CodeListKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}
