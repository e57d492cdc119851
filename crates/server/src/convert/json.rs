//! Contract messages as proto3 JSON (field names in lowerCamelCase, enums by name, 64-bit integers
//! as strings, times in RFC 3339), as any protobuf JSON library reads and writes them: webhooks'
//! bodies and `recoupd report --format json`.

use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, DynamicMessage};

/// The contract's descriptors.
static DESCRIPTORS: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(recoup_proto::FILE_DESCRIPTOR_SET).expect("the built descriptor set")
});

/// `message`, of the contract's type `name` (e.g. `recoup.v1.Event`), as JSON.
pub fn to_json<M: prost::Message>(name: &str, message: &M) -> Result<Vec<u8>, String> {
    let descriptor = DESCRIPTORS
        .get_message_by_name(name)
        .ok_or_else(|| format!("{name} is not in the descriptor set"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|e| e.to_string())?;
    serde_json::to_vec(&dynamic).map_err(|e| e.to_string())
}

/// Reads proto3 JSON into a contract message of type `name`.
pub fn from_json<M: prost::Message + Default>(name: &str, json: &[u8]) -> Result<M, String> {
    let descriptor = DESCRIPTORS
        .get_message_by_name(name)
        .ok_or_else(|| format!("{name} is not in the descriptor set"))?;
    let mut de = serde_json::Deserializer::from_slice(json);
    let dynamic = DynamicMessage::deserialize(descriptor, &mut de).map_err(|e| e.to_string())?;
    dynamic.transcode_to().map_err(|e| e.to_string())
}
