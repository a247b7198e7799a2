//! The registry client: the OCI Distribution protocol (pull and push of
//! manifests and blobs), Docker's auth flows (Basic, and Bearer tokens from
//! a `WWW-Authenticate` challenge) and Docker's credential store.
//!
//! Hand-written on `reqwest` (the HTTP stack `oci-client` itself uses)
//! rather than on `oci-client`: a pull here must stream each layer into a
//! file it can resume with a `Range` request and hash while it writes,
//! a push must stream a layer from its file, and errors must keep the
//! registry's error envelope and the request's method and URL for Docker's
//! wording. `oci-client` buffers pushed blobs in memory and hides the
//! envelope, so only its transport is used. The async runtime stays inside
//! [`Client`]; callers see a synchronous API that several threads may use
//! at once (layers are transferred on threads of the caller's choosing).

mod client;
pub mod creds;
mod error;

pub use client::{
    api_host, is_insecure, Client, Manifest, Mount, Options, ACCEPT_MANIFESTS, MEDIA_DOCKER_LIST,
    MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST,
};
pub use creds::Credential;
pub use error::{Error, RegistryErrorItem, Result};
