//! Pull, push, login and logout: the registry client (`berth-registry`)
//! driven against the image store, with dockerd's progress messages.
//!
//! Transfers run without the root lock: layers land in `downloads/`, are
//! verified, renamed into the content store and unpacked into scratch;
//! only the final commit of the image record and tag takes `lock`. The GC
//! lock is held shared throughout, so no `rmi` collects a blob between its
//! download and the record that names it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

use berth_image::distribution::{
    self, PulledImage, PulledLayer, PushLayer, PushPlan, SentLayer, UnpackedLayer,
};
pub use berth_image::reference::Reference;
use berth_registry::{creds, Client, Credential, Mount};
use berth_store::{blobs, Digest, LockMode, Scratch};
use serde_json::Value;

use crate::{Engine, Error, ErrorKind, Result};

/// How many layers move at once (dockerd: 3 downloads, 5 uploads).
const DOWNLOADS: usize = 3;
const UPLOADS: usize = 5;

/// Where pull and push report, in the shape of dockerd's JSON messages.
pub trait Progress: Sync {
    /// A line of its own (`latest: Pulling from library/busybox`).
    fn line(&self, text: &str);
    /// A layer's status (`<id>: Pull complete`).
    fn layer(&self, id: &str, status: &str);
    /// Bytes moved so far for a layer (progress bars on a terminal).
    fn bytes(&self, _id: &str, _action: &str, _current: u64, _total: u64) {}
}

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub all_tags: bool,
    /// `os/arch[/variant]`; the host's when `None`.
    pub platform: Option<String>,
}

/// A push refused for want of rights: dockerd reports a registry's 401
/// (a token without `push`, credentials that do not allow it) as denied.
fn push_err(e: berth_registry::Error) -> Error {
    match e {
        berth_registry::Error::Registry { status: 401, .. } => Error::new(
            ErrorKind::Forbidden,
            "denied: requested access to the resource is denied",
        ),
        e => reg_err(e),
    }
}

fn reg_err(e: berth_registry::Error) -> Error {
    let kind = if e.is_not_found() {
        ErrorKind::NotFound
    } else {
        ErrorKind::Internal
    };
    Error::new(kind, e.to_string())
}

struct Platform {
    os: String,
    arch: String,
    variant: Option<String>,
}

impl Platform {
    fn parse(s: Option<&str>) -> Result<Platform> {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return Ok(Platform {
                os: "linux".into(),
                arch: berth_image::host_arch().into(),
                variant: None,
            });
        };
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || {
            Error::invalid(format!(
                "\"{s}\": unknown operating system or architecture: invalid argument"
            ))
        };
        match parts.as_slice() {
            [os] if !os.is_empty() => Ok(Platform {
                os: os.to_ascii_lowercase(),
                arch: berth_image::host_arch().into(),
                variant: None,
            }),
            [os, arch] => Ok(Platform {
                os: os.to_ascii_lowercase(),
                arch: arch.to_ascii_lowercase(),
                variant: None,
            }),
            [os, arch, v] => Ok(Platform {
                os: os.to_ascii_lowercase(),
                arch: arch.to_ascii_lowercase(),
                variant: Some(v.to_ascii_lowercase()),
            }),
            _ => Err(bad()),
        }
    }

    fn matches(&self, p: &Value) -> bool {
        let os = p.get("os").and_then(Value::as_str).unwrap_or("");
        let arch = p.get("architecture").and_then(Value::as_str).unwrap_or("");
        let variant = p.get("variant").and_then(Value::as_str);
        os == self.os
            && arch == self.arch
            && match &self.variant {
                Some(v) => variant == Some(v.as_str()),
                None => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// One layer of a manifest.
struct Desc {
    media_type: String,
    digest: Digest,
    size: u64,
}

fn descriptor(v: &Value) -> Result<Desc> {
    let digest = v
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("invalid manifest: descriptor without digest"))?;
    Ok(Desc {
        media_type: v
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        digest: Digest::parse(digest)
            .map_err(|e| Error::invalid(format!("invalid manifest: {e}")))?,
        size: v.get("size").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// Layers and config of an image manifest (schema2 or OCI).
fn parse_manifest(bytes: &[u8]) -> Result<(Desc, Vec<Desc>)> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid(format!("invalid manifest: {e}")))?;
    if v.get("schemaVersion").and_then(Value::as_u64) == Some(1) {
        return Err(Error::invalid(
            "schema 1 manifests are not supported; push the image again with a newer client",
        ));
    }
    let config = descriptor(
        v.get("config")
            .ok_or_else(|| Error::invalid("invalid manifest: no config"))?,
    )?;
    let mut layers = Vec::new();
    for l in v
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        layers.push(descriptor(l)?);
    }
    Ok((config, layers))
}

fn is_index(media_type: &str, bytes: &[u8]) -> bool {
    media_type == berth_registry::MEDIA_DOCKER_LIST
        || media_type == berth_registry::MEDIA_OCI_INDEX
        || (media_type.is_empty()
            && serde_json::from_slice::<Value>(bytes)
                .ok()
                .is_some_and(|v| v.get("manifests").is_some()))
}

fn short(d: &Digest) -> String {
    d.short().to_string()
}

/// Run `f` over `items` on up to `n` threads; the first error stops the
/// rest from starting and is returned.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    n: usize,
    f: impl Fn(usize, &T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = Mutex::new(0usize);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..n.min(items.len()).max(1) {
            s.spawn(|| loop {
                if failed.load(Ordering::SeqCst) {
                    return;
                }
                let i = {
                    let mut g = next.lock().unwrap_or_else(|p| p.into_inner());
                    let i = *g;
                    *g += 1;
                    i
                };
                if i >= items.len() {
                    return;
                }
                let r = f(i, &items[i]);
                if r.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
            });
        }
    });
    let mut out = Vec::new();
    let mut first_err = None;
    for r in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match r {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) if first_err.is_none() => first_err = Some(e),
            Some(Err(_)) | None => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The domain a `login`/`logout` argument names (`http://host:5000/` -> `host:5000`).
pub fn login_domain(server: Option<&str>) -> String {
    let Some(s) = server.filter(|s| !s.is_empty()) else {
        return "docker.io".to_string();
    };
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

impl Engine {
    fn registry_options(&self) -> Result<berth_registry::Options> {
        let cfg = self.daemon_config()?;
        Ok(berth_registry::Options {
            insecure: cfg.insecure_registries,
            certs_dirs: vec![
                std::path::PathBuf::from("/etc/docker/certs.d"),
                self.layout.certs_dir(),
            ],
        })
    }

    fn registry_client(&self, domain: &str, creds: Option<Credential>) -> Result<Client> {
        Client::new(domain, &self.registry_options()?, creds).map_err(reg_err)
    }

    /// `login`: check the credentials against the registry, then store
    /// them. Returns where they were stored.
    pub fn login(&self, server: Option<&str>, cred: Credential) -> Result<creds::Stored> {
        let domain = login_domain(server);
        let client = self.registry_client(&domain, Some(cred.clone()))?;
        client.login().map_err(reg_err)?;
        creds::store(&domain, &cred).map_err(reg_err)
    }

    /// `logout`: forget stored credentials; `false` if there were none.
    pub fn logout(&self, server: Option<&str>) -> Result<(String, bool)> {
        let domain = login_domain(server);
        let found = creds::erase(&domain).map_err(reg_err)?;
        Ok((creds::server_key(&domain), found))
    }

    /// `pull`: one tag, a digest, or every tag (`all_tags`). Returns the
    /// line the CLI prints last (the canonical reference).
    pub fn pull(&self, name: &str, opts: &PullOptions, progress: &dyn Progress) -> Result<String> {
        let r = Reference::parse(name).map_err(|e| Error::invalid(e.to_string()))?;
        if opts.all_tags && (r.tag.is_some() || r.digest.is_some()) {
            return Err(Error::invalid("tag can't be used with --all-tags/-a"));
        }
        let platform = Platform::parse(opts.platform.as_deref())?;
        let creds = creds::get(&r.domain).map_err(reg_err)?;
        let client = self.registry_client(&r.domain, creds)?;
        let _gc = self.images.gc_guard(LockMode::Shared)?;
        if opts.all_tags {
            let tags = client.list_tags(&r.path).map_err(reg_err)?;
            let mut updated = false;
            for t in tags {
                let mut tr = r.clone();
                tr.tag = Some(t);
                updated |= self.pull_one(&client, &tr, &platform, progress, false)?;
            }
            let what = if updated {
                "Downloaded newer image for"
            } else {
                "Image is up to date for"
            };
            progress.line(&format!("Status: {what} {}", r.familiar_name()));
            return Ok(r.name());
        }
        let r = r.with_default_tag();
        self.pull_one(&client, &r, &platform, progress, true)?;
        Ok(r.to_string())
    }

    /// Whether tag `r` already names the image pulled from its repository
    /// at manifest `digest`.
    fn pulled_already(&self, r: &Reference, digest: &str) -> Result<bool> {
        let Some(id) = self.images.refs()?.get(&r.to_string()).cloned() else {
            return Ok(false);
        };
        let want = format!("{}@{digest}", r.familiar_name());
        Ok(self
            .images
            .record(&id)?
            .is_some_and(|rec| rec.repo_digests.contains(&want)))
    }

    /// Pull one tag or digest. Returns whether anything changed.
    fn pull_one(
        &self,
        client: &Client,
        r: &Reference,
        platform: &Platform,
        progress: &dyn Progress,
        status: bool,
    ) -> Result<bool> {
        let reference = r
            .digest
            .clone()
            .or_else(|| r.tag.clone())
            .unwrap_or_default();
        let shown = match (&r.digest, &r.tag) {
            (Some(_), _) => r.familiar(),
            (None, Some(t)) => t.clone(),
            _ => String::new(),
        };
        let not_found = |e: berth_registry::Error| {
            if e.is_not_found() {
                Error::not_found(format!("manifest for {} not found: {e}", r.familiar()))
            } else {
                reg_err(e)
            }
        };
        // As dockerd, a tag is asked for with HEAD first: when the image
        // it names is here under this tag already, nothing more is
        // fetched. A 404 (HEAD has no body to say why) or a registry
        // without a digest header is asked again with GET, whose error
        // carries the registry's words.
        let head = match &r.digest {
            Some(_) => None,
            None => match client.head_manifest(&r.path, &reference) {
                Ok(d) => d,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(reg_err(e)),
            },
        };
        if let Some(d) = &head {
            if self.pulled_already(r, d)? {
                progress.line(&format!("{shown}: Pulling from {}", r.path));
                progress.line(&format!("Digest: {d}"));
                if status {
                    progress.line(&format!("Status: Image is up to date for {}", r.familiar()));
                }
                return Ok(false);
            }
        }
        let top = client
            .get_manifest(&r.path, head.as_deref().unwrap_or(&reference))
            .map_err(not_found)?;
        progress.line(&format!("{shown}: Pulling from {}", r.path));
        let repo_digest = format!("{}@{}", r.familiar_name(), top.digest);
        let (manifest_bytes, manifest_type) = if is_index(&top.media_type, &top.bytes) {
            let v: Value = serde_json::from_slice(&top.bytes)
                .map_err(|e| Error::invalid(format!("invalid manifest list: {e}")))?;
            let chosen = v
                .get("manifests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|m| m.get("platform").is_some_and(|p| platform.matches(p)))
                .ok_or_else(|| {
                    Error::not_found(format!(
                        "no matching manifest for {platform} in the manifest list entries"
                    ))
                })?;
            let d = descriptor(chosen)?;
            let m = client
                .get_manifest(&r.path, d.digest.as_str())
                .map_err(not_found)?;
            (m.bytes, m.media_type)
        } else {
            (top.bytes, top.media_type)
        };
        let (config_desc, layers) = parse_manifest(&manifest_bytes)?;
        let layout = self.layout.clone();
        let config_bytes = if blobs::exists(&layout, &config_desc.digest) {
            blobs::read(&layout, &config_desc.digest)?
        } else {
            client
                .get_blob_bytes(&r.path, config_desc.digest.as_str())
                .map_err(reg_err)?
        };
        let config = berth_image::config::ImageConfig::parse(&config_bytes)?;
        if config.rootfs.diff_ids.len() != layers.len() {
            return Err(Error::invalid(format!(
                "invalid image: config lists {} layers, manifest has {}",
                config.rootfs.diff_ids.len(),
                layers.len()
            )));
        }
        let chain = Digest::chain_ids(&config.rootfs.diff_ids);
        // An image already here needs no layer (dockerd prints none); nor
        // does a layer whose snapshot and blob are both here.
        let have_image = self.images.record(&config_desc.digest)?.is_some();
        let mut known = Vec::new();
        let mut records: Option<distribution::KnownLayers> = None;
        for (i, l) in layers.iter().enumerate() {
            let k = if have_image || layout.snapshot(&chain[i]).exists() {
                // Read the store's records once, only if a layer may be here.
                if records.is_none() {
                    records = Some(distribution::KnownLayers::load(&self.images)?);
                }
                records
                    .as_ref()
                    .and_then(|r| r.find(&self.images, &l.digest, &config.rootfs.diff_ids[i]))
            } else {
                None
            };
            known.push(k);
        }
        let source = r.name();
        let scratch = Scratch::new(&layout, "pull")?;
        let todo: Vec<usize> = (0..layers.len()).filter(|&i| known[i].is_none()).collect();
        for (i, l) in layers.iter().enumerate() {
            if known[i].is_some() {
                if !have_image {
                    progress.layer(&short(&l.digest), "Already exists");
                }
            } else {
                progress.layer(&short(&l.digest), "Pulling fs layer");
            }
        }
        for &i in todo.iter().skip(DOWNLOADS) {
            progress.layer(&short(&layers[i].digest), "Waiting");
        }
        // Pull complete is reported in layer order, as dockerd extracts.
        let done: Mutex<(usize, Vec<bool>)> = Mutex::new((0, vec![false; todo.len()]));
        let unpacked: Vec<UnpackedLayer> = parallel(&todo, DOWNLOADS, |k, &i| {
            let l = &layers[i];
            let id = short(&l.digest);
            let u = if blobs::exists(&layout, &l.digest) {
                progress.layer(&id, "Download complete");
                distribution::unpack_blob(&self.images, scratch.path(), &l.digest)?
            } else {
                let partial = layout.download_partial(&l.digest);
                let total = l.size;
                let res = client.fetch_blob(&r.path, l.digest.as_str(), &partial, &|n| {
                    progress.bytes(&id, "Downloading", n, total)
                });
                match res {
                    Ok(_) => {}
                    Err(berth_registry::Error::DigestMismatch { .. }) => {
                        return Err(Error::invalid(format!(
                            "filesystem layer verification failed for digest {}",
                            l.digest
                        )))
                    }
                    Err(e) => return Err(reg_err(e)),
                }
                progress.layer(&id, "Verifying Checksum");
                let io = |op: &str, e: std::io::Error| {
                    Error::new(
                        ErrorKind::Internal,
                        format!("{op} {}: {e}", partial.display()),
                    )
                };
                let file = std::fs::File::open(&partial).map_err(|e| io("open", e))?;
                progress.layer(&id, "Download complete");
                // The blob is synced on a thread of its own while it is
                // unpacked from the page cache, rather than before: the
                // disk and the unpacking overlap, and it is still synced
                // before it enters the store.
                let reader = file.try_clone().map_err(|e| io("dup", e))?;
                let (u, synced) = std::thread::scope(|s| {
                    let sync = s.spawn(|| file.sync_data());
                    let u = distribution::unpack_download(reader, scratch.path());
                    (u, sync.join())
                });
                let u = u?;
                match synced {
                    Ok(r) => r.map_err(|e| io("fsync", e))?,
                    Err(_) => return Err(Error::new(ErrorKind::Internal, "fsync thread panicked")),
                }
                let dest = layout.blob(&l.digest);
                if dest.exists() {
                    let _ = std::fs::remove_file(&partial);
                } else {
                    match std::fs::rename(&partial, &dest) {
                        Ok(()) => {}
                        // Another pull of the same blob moved it in first.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dest.exists() => {}
                        Err(e) => return Err(io("rename", e)),
                    }
                }
                u
            };
            let mut g = done.lock().unwrap_or_else(|p| p.into_inner());
            g.1[k] = true;
            while g.0 < todo.len() && g.1[g.0] {
                progress.layer(&short(&layers[todo[g.0]].digest), "Pull complete");
                g.0 += 1;
            }
            Ok(u)
        })?;
        let mut unpacked = unpacked.into_iter();
        let mut pulled = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let k = known[i].take();
            // A layer known by its content under another blob (the
            // uncompressed one berth built) is recorded with that blob.
            let (blob, media_type) = match &k {
                Some(k) if k.blob != l.digest => (k.blob.clone(), k.media_type.clone()),
                _ => (l.digest.clone(), l.media_type.clone()),
            };
            pulled.push(PulledLayer {
                blob,
                media_type,
                unpacked: if k.is_none() { unpacked.next() } else { None },
                known: k,
            });
        }
        let outcome = distribution::commit_pulled(
            &self.images,
            &scratch,
            PulledImage {
                config_bytes,
                manifest_bytes,
                manifest_media_type: manifest_type,
                layers: pulled,
                tag: if r.digest.is_some() {
                    None
                } else {
                    Some(r.clone())
                },
                repo_digest,
                source,
            },
        )?;
        progress.line(&format!("Digest: {}", top.digest));
        if status {
            let what = if outcome.updated {
                "Downloaded newer image for"
            } else {
                "Image is up to date for"
            };
            progress.line(&format!("Status: {what} {}", r.familiar()));
        }
        Ok(outcome.updated)
    }

    /// `push`: one tag, or every tag of the repository (`all_tags`).
    pub fn push(&self, name: &str, all_tags: bool, progress: &dyn Progress) -> Result<()> {
        let r = Reference::parse(name).map_err(|e| Error::invalid(e.to_string()))?;
        if r.digest.is_some() {
            return Err(Error::invalid(format!(
                "cannot push a digest reference: {}",
                r.familiar()
            )));
        }
        let refs = self.images.refs()?;
        let prefix = format!("{}:", r.name());
        let tags: Vec<(Reference, Digest)> = if all_tags {
            refs.iter()
                .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
                .filter_map(|(k, v)| Reference::parse(k).ok().map(|x| (x, v.clone())))
                .collect()
        } else {
            let t = r.clone().with_default_tag();
            refs.get(&t.to_string())
                .map(|id| vec![(t, id.clone())])
                .unwrap_or_default()
        };
        if tags.is_empty() {
            return Err(Error::not_found(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            )));
        }
        // The client (and so `certs.d`) comes first, as dockerd looks up
        // the registry's endpoints before it starts the progress stream.
        let creds = creds::get(&r.domain).map_err(reg_err)?;
        let client = self.registry_client(&r.domain, creds)?;
        progress.line(&format!("The push refers to repository [{}]", r.name()));
        let _gc = self.images.gc_guard(LockMode::Shared)?;
        for (t, id) in tags {
            self.push_one(&client, &t, &id, progress)?;
        }
        Ok(())
    }

    /// The layers of a manifest still to be made, sent as they become
    /// ready: layers stored uncompressed are gzipped one after another
    /// (each on every core) while the ones done are already uploading, as
    /// dockerd compresses while it pushes. Returns every layer as sent.
    fn prepare_and_send(
        &self,
        plan: &[PushLayer],
        order: &[usize],
        send: &(dyn Fn(usize, &Digest) -> Result<()> + Sync),
    ) -> Result<Vec<SentLayer>> {
        let scratch = Scratch::new(&self.layout, "push")?;
        let slots: Vec<(Mutex<Option<Result<SentLayer>>>, Condvar)> = plan
            .iter()
            .map(|_| (Mutex::new(None), Condvar::new()))
            .collect();
        let failed = AtomicBool::new(false);
        let uploaded = std::thread::scope(|s| {
            s.spawn(|| {
                for &i in order {
                    let r = if failed.load(Ordering::SeqCst) {
                        Err(Error::new(ErrorKind::Internal, "push stopped"))
                    } else {
                        distribution::prepare_layer(&self.images, scratch.path(), &plan[i])
                            .map_err(Error::from)
                    };
                    let (m, c) = &slots[i];
                    *m.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                    c.notify_all();
                }
            });
            let wait = |i: usize| -> Result<Digest> {
                let (m, c) = &slots[i];
                let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
                while g.is_none() {
                    g = c.wait(g).unwrap_or_else(|p| p.into_inner());
                }
                if let Some(Ok((_, d, _))) = g.as_ref() {
                    return Ok(d.clone());
                }
                // One waiter per layer: the error is its to return.
                match g.take() {
                    Some(Err(e)) => Err(e),
                    _ => Err(Error::new(ErrorKind::Internal, "layer not prepared")),
                }
            };
            // A failed layer stops the compressing of the rest.
            parallel(order, UPLOADS, |_, &i| {
                let r = wait(i).and_then(|d| send(i, &d));
                if r.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                r
            })
        });
        uploaded?;
        // Layers left out of `order` (a blob twice) share the first's.
        let mut sent: Vec<Option<SentLayer>> = slots
            .into_iter()
            .map(|(m, _)| {
                m.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .and_then(|r| r.ok())
            })
            .collect();
        for i in 0..plan.len() {
            if sent[i].is_none() {
                let twin =
                    (0..plan.len()).find(|&j| plan[j].blob == plan[i].blob && sent[j].is_some());
                sent[i] = twin.and_then(|j| sent[j].clone());
            }
        }
        sent.into_iter()
            .map(|x| x.ok_or_else(|| Error::new(ErrorKind::Internal, "layer not prepared")))
            .collect()
    }

    fn push_one(
        &self,
        client: &Client,
        r: &Reference,
        id: &Digest,
        progress: &dyn Progress,
    ) -> Result<()> {
        let layout = self.layout.clone();
        let rec = self
            .images
            .record(id)?
            .ok_or_else(|| Error::not_found(format!("No such image: {id}")))?;
        // Displayed by diff ID, top layer first, as dockerd shows them;
        // shown before the layers are compressed for the manifest.
        let shown: Vec<String> = rec
            .layers
            .iter()
            .map(|l| l.diff_id.short().to_string())
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let order: Vec<usize> = (0..rec.layers.len())
            .rev()
            .filter(|&i| seen.insert(rec.layers[i].blob.clone()))
            .collect();
        for &i in &order {
            progress.layer(&shown[i], "Preparing");
        }
        let repo = r.path.clone();
        let same_registry = format!("{}/", r.domain);
        let sources: BTreeMap<String, Vec<String>> = rec.blob_sources.clone();
        // One layer to the registry: skipped if there, else mounted from
        // another repository of the registry, else uploaded.
        let send = |i: usize, digest: &Digest| -> Result<()> {
            let d = digest.as_str();
            if client.blob_exists(&repo, d).map_err(push_err)? {
                progress.layer(&shown[i], "Layer already exists");
                return Ok(());
            }
            let from = sources.get(d).and_then(|v| {
                v.iter()
                    .filter_map(|s| s.strip_prefix(&same_registry))
                    .find(|p| *p != repo)
                    .map(str::to_string)
            });
            let location = match from {
                Some(src) => match client.mount_blob(&repo, d, &src).map_err(push_err)? {
                    Mount::Mounted => {
                        progress.layer(&shown[i], &format!("Mounted from {src}"));
                        return Ok(());
                    }
                    Mount::Upload(loc) => loc,
                },
                None => client.start_upload(&repo).map_err(push_err)?,
            };
            progress.bytes(&shown[i], "Pushing", 0, blobs::size(&layout, digest)?);
            client
                .upload_blob(&repo, &location, d, &layout.blob(digest))
                .map_err(push_err)?;
            progress.layer(&shown[i], "Pushed");
            Ok(())
        };
        let (mref, bytes) = match distribution::push_plan(&self.images, id)? {
            PushPlan::Kept(mref, bytes) => {
                let (_, layers) = parse_manifest(&bytes)?;
                if layers.len() != rec.layers.len() {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        format!("manifest {} does not match image {id}", mref.digest),
                    ));
                }
                parallel(&order, UPLOADS, |_, &i| send(i, &layers[i].digest))?;
                (mref, bytes)
            }
            PushPlan::Make(plan) => {
                let sent = self.prepare_and_send(&plan, &order, &send)?;
                distribution::make_manifest(&self.images, id, &sent)?
            }
        };
        let (config, layers) = parse_manifest(&bytes)?;
        if !client
            .blob_exists(&repo, config.digest.as_str())
            .map_err(push_err)?
        {
            let loc = client.start_upload(&repo).map_err(push_err)?;
            let cb = blobs::read(&layout, &config.digest)?;
            client
                .upload_bytes(&repo, &loc, config.digest.as_str(), cb)
                .map_err(push_err)?;
        }
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let digest = client
            .put_manifest(&repo, &tag, &mref.media_type, &bytes)
            .map_err(push_err)?;
        progress.line(&format!("{tag}: digest: {digest} size: {}", bytes.len()));
        let sent: Vec<Digest> = layers.iter().map(|l| l.digest.clone()).collect();
        distribution::record_push(
            &self.images,
            id,
            &format!("{}@{digest}", r.familiar_name()),
            &r.name(),
            &sent,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn login_domains() {
        assert_eq!(login_domain(None), "docker.io");
        assert_eq!(
            login_domain(Some("http://127.0.0.1:5000/")),
            "127.0.0.1:5000"
        );
        assert_eq!(
            login_domain(Some("https://index.docker.io/v1/")),
            "docker.io"
        );
    }

    #[test]
    fn platforms() {
        let p = Platform::parse(Some("linux/arm64/v8")).unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!(p.matches(
            &serde_json::json!({"os": "linux", "architecture": "arm64", "variant": "v8"})
        ));
        assert!(!p.matches(&serde_json::json!({"os": "linux", "architecture": "amd64"})));
    }
}
