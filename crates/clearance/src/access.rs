//! Roles and who may do what. One table of rules, so that the HTTP API, the CLI and the tests
//! agree on it without repeating it.

use store::Principal;

use crate::error::ClearanceError;

/// The roles of the brief: declarant (申报人), broker (报关企业), officer (关员), risk analyst
/// (风险分析), auditor (稽查/督察), administrator, and the officers' supervisor (科长): a customs
/// role that reads what officers read, reassigns open tasks to officers on duty and sees the
/// dashboards, but does no task itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Declarant,
    Broker,
    Officer,
    RiskAnalyst,
    Auditor,
    Admin,
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Declarant,
        Role::Broker,
        Role::Officer,
        Role::RiskAnalyst,
        Role::Auditor,
        Role::Admin,
        Role::Supervisor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Declarant => "declarant",
            Role::Broker => "broker",
            Role::Officer => "officer",
            Role::RiskAnalyst => "risk_analyst",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Trade roles act for enterprises and see only those enterprises' declarations.
    pub fn is_trade(self) -> bool {
        matches!(self, Role::Declarant | Role::Broker)
    }
}

/// What a caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Lodge,
    Read,
    Amend,
    Cancel,
    Release,
    ReadAudit,
    /// Reassess a declaration's duty and taxes (an officer's finding, a release rolled back).
    Reassess,
    /// Import, try, activate and roll back tariff releases and exchange-rate tables.
    ManageReleases,
    /// Read targeting rules (never trade roles: rules are not disclosed to those they target).
    ReadRules,
    /// Propose, test, approve and retire targeting rules.
    WriteRules,
    /// See officers' task queues.
    ReadTasks,
    /// Close one's own task with a finding.
    RecordFindings,
    /// Record a payment (trade) or a guarantee (officer) of the assessed duty and taxes.
    Pay,
    /// Set enterprises' credit levels (企业信用等级).
    ManageCredit,
    /// Go on or off duty at an office (one's own duty).
    KeepDuty,
    /// Read clearance statistics (release times).
    ReadStatistics,
    /// Hold a declaration's goods (扣留) by hand.
    Hold,
    /// Import history, train, import, promote and roll back risk models.
    ManageModels,
    /// Register and withdraw payment connectors (the bank links whose confirmations count).
    ManagePaymentConnectors,
    /// See the payment connectors.
    ReadPaymentConnectors,
    /// Approve or refuse a trader's request to amend or cancel (修撤单).
    DecideModifications,
    /// Register enterprises and users, issue and revoke anybody's tokens, disable users, grant
    /// and withdraw broker authorisations.
    ManageUsers,
    /// Give an open task to another officer on duty (a supervisor's call).
    ReassignTasks,
}

impl Action {
    pub const ALL: [Action; 23] = [
        Action::Lodge,
        Action::Read,
        Action::Amend,
        Action::Cancel,
        Action::Release,
        Action::ReadAudit,
        Action::Reassess,
        Action::ManageReleases,
        Action::ReadRules,
        Action::WriteRules,
        Action::ReadTasks,
        Action::RecordFindings,
        Action::Pay,
        Action::ManageCredit,
        Action::KeepDuty,
        Action::ReadStatistics,
        Action::Hold,
        Action::ManageModels,
        Action::ManagePaymentConnectors,
        Action::ReadPaymentConnectors,
        Action::DecideModifications,
        Action::ManageUsers,
        Action::ReassignTasks,
    ];

    /// The access matrix. Declarations are changed by the trade that lodged them and released by
    /// officers; everybody reads (trade roles only their own); the audit chain is for auditors.
    pub fn allowed(self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::Lodge | Action::Amend | Action::Cancel => matches!(role, Declarant | Broker),
            Action::Read => true,
            Action::Release => matches!(role, Officer),
            Action::ReadAudit => matches!(role, Auditor | Admin),
            Action::Reassess => matches!(role, Officer),
            Action::ManageReleases => matches!(role, Admin),
            Action::ReadRules => {
                matches!(role, Officer | RiskAnalyst | Auditor | Admin | Supervisor)
            }
            Action::WriteRules => matches!(role, RiskAnalyst),
            Action::ReadTasks => {
                matches!(role, Officer | RiskAnalyst | Auditor | Admin | Supervisor)
            }
            Action::RecordFindings => matches!(role, Officer),
            Action::Pay => matches!(role, Declarant | Broker | Officer),
            Action::ManageCredit => matches!(role, Admin),
            Action::KeepDuty => matches!(role, Officer),
            Action::ReadStatistics => {
                matches!(role, Officer | RiskAnalyst | Auditor | Admin | Supervisor)
            }
            Action::Hold => matches!(role, Officer),
            Action::ManageModels => matches!(role, RiskAnalyst),
            Action::ManagePaymentConnectors => matches!(role, Admin),
            Action::ReadPaymentConnectors => matches!(role, Admin | Auditor),
            Action::DecideModifications => matches!(role, Officer),
            Action::ManageUsers => matches!(role, Admin),
            Action::ReassignTasks => matches!(role, Supervisor),
        }
    }

    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Action::Lodge => ("lodge declarations", "申报"),
            Action::Read => ("read declarations", "查询报关单"),
            Action::Amend => ("amend declarations", "修改报关单"),
            Action::Cancel => ("cancel declarations", "撤销报关单"),
            Action::Release => ("release goods", "放行"),
            Action::ReadAudit => ("read the audit record", "查阅执法记录"),
            Action::Reassess => ("reassess declarations", "重新审核计征税款"),
            Action::ManageReleases => ("manage tariff releases", "管理税则版本"),
            Action::ReadRules => ("read targeting rules", "查阅布控规则"),
            Action::WriteRules => ("write targeting rules", "编写布控规则"),
            Action::ReadTasks => ("see officers' tasks", "查看关员任务"),
            Action::RecordFindings => ("record findings", "录入查验结果"),
            Action::Pay => ("record payments or guarantees", "录入缴款或担保"),
            Action::ManageCredit => ("set enterprise credit levels", "设定企业信用等级"),
            Action::KeepDuty => ("go on or off duty", "上岗或离岗"),
            Action::ReadStatistics => ("read clearance statistics", "查阅通关统计"),
            Action::Hold => ("hold goods", "扣留货物"),
            Action::ManageModels => ("manage risk models", "管理风险模型"),
            Action::ManagePaymentConnectors => ("manage payment connectors", "管理税费支付通道"),
            Action::ReadPaymentConnectors => ("see payment connectors", "查看税费支付通道"),
            Action::DecideModifications => (
                "decide amendment and cancellation requests",
                "审批修撤单申请",
            ),
            Action::ManageUsers => ("manage users and tokens", "管理用户和令牌"),
            Action::ReassignTasks => ("reassign officers' tasks", "改派关员任务"),
        }
    }
}

/// An authenticated caller with its role parsed.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub role: Role,
}

impl Caller {
    pub fn from_principal(principal: Principal) -> Option<Caller> {
        let role = Role::parse(&principal.user.role)?;
        Some(Caller { principal, role })
    }

    pub fn user_id(&self) -> &str {
        &self.principal.user.id
    }

    pub fn require(&self, action: Action) -> Result<(), ClearanceError> {
        if action.allowed(self.role) {
            return Ok(());
        }
        let (en, zh) = action.describe();
        Err(ClearanceError::Forbidden {
            message_en: format!("the role {} may not {en}", self.role.as_str()),
            message_zh: format!("角色 {} 无权{zh}", self.role.as_str()),
            errors: vec![],
        })
    }

    /// What this caller sees: `None` means everything (customs roles). A trade caller sees what its
    /// enterprise trades or declared, and (a broker) what is traded by enterprises that authorised
    /// it, matched on the trader only.
    pub fn visibility(&self) -> Option<store::Visibility> {
        if !self.role.is_trade() {
            return None;
        }
        let own = self
            .principal
            .enterprise
            .iter()
            .map(|e| e.credit_code.clone())
            .collect();
        let principals = if self.role == Role::Broker {
            self.principal.principals.clone()
        } else {
            vec![]
        };
        Some(store::Visibility { own, principals })
    }

    /// Whether a declaration with this trader and declarant is visible to the caller.
    pub fn sees(&self, trader_credit_code: &str, declarant_credit_code: &str) -> bool {
        match self.visibility() {
            None => true,
            Some(v) => {
                v.own
                    .iter()
                    .any(|c| c == trader_credit_code || c == declarant_credit_code)
                    || v.principals.iter().any(|c| c == trader_credit_code)
            }
        }
    }

    /// Whether the caller may declare for this trader, through this declarant: a trader declares for
    /// itself; a broker declares as itself for the enterprises that authorised it.
    pub fn may_declare(
        &self,
        trader_credit_code: &str,
        declarant_credit_code: &str,
    ) -> Vec<domain::FieldError> {
        let own = self
            .principal
            .enterprise
            .as_ref()
            .map(|e| e.credit_code.as_str())
            .unwrap_or("");
        let mut errors = Vec::new();
        if declarant_credit_code != own {
            errors.push(not_authorised(
                "declarant.credit_code",
                declarant_credit_code,
                "declare as",
                "以其名义申报",
            ));
        }
        let trader_ok = match self.role {
            Role::Declarant => trader_credit_code == own,
            Role::Broker => self
                .principal
                .principals
                .iter()
                .any(|p| p == trader_credit_code),
            _ => false,
        };
        if !trader_ok {
            errors.push(not_authorised(
                "trader.credit_code",
                trader_credit_code,
                "declare for",
                "代为申报",
            ));
        }
        errors
    }
}

fn not_authorised(path: &str, code: &str, what_en: &str, what_zh: &str) -> domain::FieldError {
    domain::FieldError::not_allowed(
        path,
        &format!(
            "your enterprise is not authorised to {what_en} enterprise {}",
            domain::echoed(code)
        ),
        &format!("贵单位未获授权{what_zh}企业 {}", domain::echoed(code)),
    )
}
