//! The gRPC services: each maps requests to domain and store calls and back.

pub mod accounts;
pub mod calls;
pub mod events;
pub mod floor;
pub mod guidance;
pub mod history;
pub mod import;
pub mod plans;
pub mod reporting;

/// Rejections listed in an import summary (all are counted).
pub(crate) const MAX_LISTED_REJECTIONS: usize = 1000;

/// A refused import record as a summary lists it: its position, its reference and every problem.
pub(crate) fn rejection(
    index: i64,
    external_ref: &str,
    v: recoup_domain::Violations,
) -> recoup_proto::v1::ImportRejection {
    recoup_proto::v1::ImportRejection {
        index,
        external_ref: external_ref.to_owned(),
        violations: v
            .into_iter()
            .map(|x| recoup_proto::v1::FieldViolation {
                field: x.field,
                description: x.description,
            })
            .collect(),
    }
}

/// Account `id` as stored, or NOT_FOUND naming `name` as the caller wrote it.
pub(crate) async fn account_or_not_found(
    store: &recoup_store::Store,
    id: i64,
    name: &str,
) -> Result<recoup_store::AccountSnapshot, tonic::Status> {
    store
        .get_account(recoup_store::AccountKey::Id(id))
        .await
        .map_err(crate::status::store_failed)?
        .ok_or_else(|| crate::status::not_found(name))
}
