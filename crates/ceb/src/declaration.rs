pub struct Parties;
pub fn to_declaration() {}
