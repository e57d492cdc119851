//! The method × role matrix: every RPC that needs a credential and the roles that may call it.
//! The README's table is this table.

use super::Role::{self, Admin, Agent, Integration, Supervisor};

/// RPCs that need no credential: health and reflection (for load balancers and tooling).
pub fn is_open(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
        || path.starts_with("/grpc.reflection.v1.ServerReflection/")
        || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
}

const READERS: &[Role] = &[Agent, Supervisor, Integration];
const CALLERS: &[Role] = &[Agent, Supervisor];

/// `(gRPC method path, roles allowed)`.
pub const MATRIX: &[(&str, &[Role])] = &[
    ("/recoup.v1.AccountService/GetAccount", READERS),
    ("/recoup.v1.AccountService/ListAccounts", READERS),
    ("/recoup.v1.AccountService/BatchGetAccounts", READERS),
    ("/recoup.v1.AccountService/GetWorklist", CALLERS),
    ("/recoup.v1.AccountService/ImportAccounts", &[Integration]),
    (
        "/recoup.v1.AccountService/ImportAccountsWithResults",
        &[Integration],
    ),
    ("/recoup.v1.AccountService/RecordPayment", &[Integration]),
    ("/recoup.v1.AccountService/SetAccountCategory", CALLERS),
    ("/recoup.v1.AccountService/RaiseDispute", CALLERS),
    ("/recoup.v1.AccountService/ResolveDispute", &[Supervisor]),
    ("/recoup.v1.AccountService/GetPayment", READERS),
    ("/recoup.v1.AccountService/ListPayments", READERS),
    ("/recoup.v1.AccountService/GetDispute", READERS),
    ("/recoup.v1.AccountService/GetInvoice", READERS),
    ("/recoup.v1.AccountService/ListDisputes", READERS),
    (
        "/recoup.v1.AccountService/LiftContactBlock",
        &[Supervisor, Integration],
    ),
    ("/recoup.v1.AccountService/ImportHistory", &[Integration]),
    ("/recoup.v1.CallService/RecordCallOutcome", CALLERS),
    ("/recoup.v1.CallService/ListCalls", READERS),
    ("/recoup.v1.CallService/GetCall", READERS),
    ("/recoup.v1.PlanService/ValidatePlan", CALLERS),
    ("/recoup.v1.PlanService/CreatePlan", CALLERS),
    ("/recoup.v1.PlanService/GetPlan", READERS),
    ("/recoup.v1.PlanService/ListPlans", READERS),
    ("/recoup.v1.PlanService/ApprovePlan", &[Supervisor]),
    ("/recoup.v1.PlanService/RecordPlanSignature", CALLERS),
    ("/recoup.v1.GuidanceService/GetCallGuidance", CALLERS),
    ("/recoup.v1.GuidanceService/RenderLetter", CALLERS),
    ("/recoup.v1.GuidanceService/GetLetter", READERS),
    ("/recoup.v1.GuidanceService/ListLetters", READERS),
    ("/recoup.v1.EventService/WatchEvents", READERS),
    ("/recoup.v1.FloorService/ClaimNextAccount", CALLERS),
    ("/recoup.v1.FloorService/ClaimAccount", CALLERS),
    ("/recoup.v1.FloorService/ExtendClaim", CALLERS),
    ("/recoup.v1.FloorService/ReleaseClaim", CALLERS),
    ("/recoup.v1.FloorService/PrepareCall", CALLERS),
    ("/recoup.v1.FloorService/ListRuleBreaches", &[Supervisor]),
    // Figures summed over the book name no debtor, so the operators who run recoup may read them.
    ("/recoup.v1.ReportingService/GetKpis", &[Supervisor, Admin]),
    ("/recoup.v1.ReportingService/GetEvidencePack", &[Supervisor]),
];

/// The roles that may call `path`, or None for a path the matrix does not list: the gate answers
/// UNIMPLEMENTED for it, so an RPC added without a row here is closed to everyone, never open to all.
pub fn roles_for(path: &str) -> Option<&'static [Role]> {
    MATRIX.iter().find(|(p, _)| *p == path).map(|(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_read_no_account_and_change_nothing() {
        // Admins manage credentials with `recoupd keys`; of the collection data they read only the
        // report, whose figures are sums that name no debtor.
        let theirs: Vec<_> = MATRIX
            .iter()
            .filter(|(_, roles)| roles.contains(&Admin))
            .map(|(p, _)| *p)
            .collect();
        assert_eq!(theirs, ["/recoup.v1.ReportingService/GetKpis"]);
    }
}
