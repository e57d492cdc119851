//! Where a recorded plan stands in its life: awaiting approval (beyond the proposer's authority),
//! awaiting the debtor's signature, in force, and how it ended.

/// A recorded plan's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanState {
    AwaitingApproval,
    AwaitingSignature,
    Active,
    Completed,
    Broken,
    /// Replaced by a newer plan before it ended.
    Cancelled,
}

impl PlanState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::AwaitingApproval => "awaiting_approval",
            PlanState::AwaitingSignature => "awaiting_signature",
            PlanState::Active => "active",
            PlanState::Completed => "completed",
            PlanState::Broken => "broken",
            PlanState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<PlanState> {
        [
            PlanState::AwaitingApproval,
            PlanState::AwaitingSignature,
            PlanState::Active,
            PlanState::Completed,
            PlanState::Broken,
            PlanState::Cancelled,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }

    /// Still in play: an account has at most one live plan.
    pub fn live(self) -> bool {
        matches!(
            self,
            PlanState::AwaitingApproval | PlanState::AwaitingSignature | PlanState::Active
        )
    }
}

/// Why an approval is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalRefused {
    /// The plan does not await approval.
    NotAwaiting(PlanState),
    /// Four eyes: the proposer may not approve their own plan.
    OwnProposal,
}

/// Whether `approver` may approve a plan in `state` proposed by `proposer` (the role was checked
/// by the caller: only a sufficient role gets this far).
pub fn may_approve(
    state: PlanState,
    proposer: &str,
    approver: &str,
) -> Result<(), ApprovalRefused> {
    if state != PlanState::AwaitingApproval {
        return Err(ApprovalRefused::NotAwaiting(state));
    }
    if proposer == approver {
        return Err(ApprovalRefused::OwnProposal);
    }
    Ok(())
}

/// The state a plan takes once it is agreed: awaiting approval when the proposer lacks the
/// authority, else awaiting the signature.
pub fn initial(needs_approval: bool) -> PlanState {
    if needs_approval {
        PlanState::AwaitingApproval
    } else {
        PlanState::AwaitingSignature
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_only_three_are_live() {
        for s in [
            PlanState::AwaitingApproval,
            PlanState::AwaitingSignature,
            PlanState::Active,
            PlanState::Completed,
            PlanState::Broken,
            PlanState::Cancelled,
        ] {
            assert_eq!(PlanState::parse(s.as_str()), Some(s));
        }
        assert_eq!(PlanState::parse("open"), None);
        assert!(PlanState::Active.live() && !PlanState::Broken.live());
    }

    #[test]
    fn the_proposer_may_not_approve_and_only_an_awaiting_plan_is_approved() {
        assert_eq!(
            may_approve(PlanState::AwaitingApproval, "sue", "sue"),
            Err(ApprovalRefused::OwnProposal)
        );
        assert_eq!(
            may_approve(PlanState::Active, "sue", "ann"),
            Err(ApprovalRefused::NotAwaiting(PlanState::Active))
        );
        assert_eq!(
            may_approve(PlanState::AwaitingApproval, "sue", "ann"),
            Ok(())
        );
        assert_eq!(initial(true), PlanState::AwaitingApproval);
        assert_eq!(initial(false), PlanState::AwaitingSignature);
    }
}
