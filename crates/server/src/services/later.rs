//! Services whose capabilities are on the roadmap. They are served (so clients and reflection see the
//! whole contract) and answer UNIMPLEMENTED naming the missing capability; none fakes a result.

use recoup_proto::v1 as pb;
use recoup_proto::v1::guidance_service_server::GuidanceService;
use recoup_proto::v1::plan_service_server::PlanService;
use tonic::{Request, Response, Status};

use crate::unsupported;

/// PlanService, until payment plans are delivered.
pub struct Plans;

#[tonic::async_trait]
impl PlanService for Plans {
    async fn validate_plan(
        &self,
        _: Request<pb::ValidatePlanRequest>,
    ) -> Result<Response<pb::ValidatePlanResponse>, Status> {
        Err(unsupported("ValidatePlan", "payment plans"))
    }

    async fn create_plan(
        &self,
        _: Request<pb::CreatePlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported("CreatePlan", "payment plans"))
    }

    async fn get_plan(&self, _: Request<pb::GetPlanRequest>) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported("GetPlan", "payment plans"))
    }

    async fn list_plans(
        &self,
        _: Request<pb::ListPlansRequest>,
    ) -> Result<Response<pb::ListPlansResponse>, Status> {
        Err(unsupported("ListPlans", "payment plans"))
    }

    async fn approve_plan(
        &self,
        _: Request<pb::ApprovePlanRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported("ApprovePlan", "payment plans"))
    }

    async fn record_plan_signature(
        &self,
        _: Request<pb::RecordPlanSignatureRequest>,
    ) -> Result<Response<pb::Plan>, Status> {
        Err(unsupported("RecordPlanSignature", "payment plans"))
    }
}

/// GuidanceService, until call guidance and letters are delivered.
pub struct Guidance;

#[tonic::async_trait]
impl GuidanceService for Guidance {
    async fn get_call_guidance(
        &self,
        _: Request<pb::GetCallGuidanceRequest>,
    ) -> Result<Response<pb::CallGuidance>, Status> {
        Err(unsupported("GetCallGuidance", "call guidance"))
    }

    async fn render_letter(
        &self,
        _: Request<pb::RenderLetterRequest>,
    ) -> Result<Response<pb::Letter>, Status> {
        Err(unsupported("RenderLetter", "letters"))
    }
}
