//! Services whose capabilities are on the roadmap. They are served (so clients and reflection see the
//! whole contract) and answer UNIMPLEMENTED naming the missing capability; none fakes a result.

use recoup_proto::v1 as pb;
use recoup_proto::v1::guidance_service_server::GuidanceService;
use tonic::{Request, Response, Status};

use crate::unsupported;

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
