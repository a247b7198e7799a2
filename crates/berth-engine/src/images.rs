//! Image operations in Docker's terms: list, inspect, tag, remove, prune,
//! history, import, load, save.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

use berth_image::archive;
use berth_image::config::go_rfc3339_nano;
use berth_image::import::{self, ImportOptions};
use berth_image::reference::Reference;
use berth_image::store::Image;
use berth_store::{Digest, LockMode};

use crate::types::{
    DeleteItem, GraphDriver, HistoryItem, ImageInspect, ImageMetadata, ImageSummary, RootFs,
};
use crate::{Engine, Error, Result};

/// Filters accepted by `images --filter`, validated up front.
#[derive(Debug, Default, Clone)]
pub struct ImageFilters {
    pub reference: Vec<String>,
    pub dangling: Option<bool>,
    pub label: Vec<String>,
    pub before: Option<String>,
    pub since: Option<String>,
}

impl ImageFilters {
    /// Parse `key=value` filter arguments with Docker's errors.
    pub fn parse(args: &[String]) -> Result<ImageFilters> {
        let mut f = ImageFilters::default();
        for a in args {
            let (k, v) = a
                .split_once('=')
                .ok_or_else(|| Error::invalid("bad format of filter (expected name=value)"))?;
            match k.to_ascii_lowercase().as_str() {
                "reference" => f.reference.push(v.to_string()),
                "dangling" => {
                    f.dangling = Some(match v.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(Error::invalid(format!("Invalid filter 'dangling=[{v}]'")))
                        }
                    })
                }
                "label" => f.label.push(v.to_string()),
                "before" => f.before = Some(v.to_string()),
                "since" => f.since = Some(v.to_string()),
                _ => return Err(Error::invalid(format!("Invalid filter '{k}'"))),
            }
        }
        Ok(f)
    }
}

/// Go's `path.Match` for the reference filter: `*`, `?`, `[...]`, where
/// `*` and `?` do not cross `/`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn m(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| m(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|c| *c == ']') else {
                    return false;
                };
                if n.is_empty() {
                    return false;
                }
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some('^') | Some('!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= n[0] && n[0] <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == n[0];
                        i += 1;
                    }
                }
                hit != neg && m(&p[end + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && m(&p[2..], &n[1..]),
            Some(c) => !n.is_empty() && n[0] == *c && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

fn created_unix(img: &Image) -> i64 {
    img.config
        .created_time()
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

impl Engine {
    fn resolve_image(&self, name: &str) -> Result<Image> {
        let id = self.images.resolve(name)?;
        Ok(self.images.load(&id)?)
    }

    /// `images`: one summary per image, newest first, tags narrowed by a
    /// reference filter as Docker narrows them.
    pub fn image_list(&self, filters: &ImageFilters) -> Result<Vec<ImageSummary>> {
        let refs = self.images.refs()?;
        let mut all = self.images.all()?;
        let time_of = |name: &str| -> Result<i64> { Ok(created_unix(&self.resolve_image(name)?)) };
        let before = filters.before.as_deref().map(time_of).transpose()?;
        let since = filters.since.as_deref().map(time_of).transpose()?;
        all.sort_by_key(|i| std::cmp::Reverse(created_unix(i)));
        let mut out = Vec::new();
        for img in all {
            let created = created_unix(&img);
            if before.is_some_and(|b| created >= b) || since.is_some_and(|s| created <= s) {
                continue;
            }
            let mut tags = self.images.tags_of(&refs, &img.record.id);
            if let Some(d) = filters.dangling {
                if d != tags.is_empty() {
                    continue;
                }
            }
            let labels = img.config.config.as_ref().and_then(|c| c.labels.clone());
            if !filters
                .label
                .iter()
                .all(|l| label_matches(labels.as_ref(), l))
            {
                continue;
            }
            if !filters.reference.is_empty() {
                tags.retain(|t| {
                    let name = t.rsplit_once(':').map(|(n, _)| n).unwrap_or(t);
                    filters
                        .reference
                        .iter()
                        .any(|p| glob_match(p, name) || glob_match(p, t))
                });
                if tags.is_empty() {
                    continue;
                }
            }
            let size = self.images.size(&img) as i64;
            let digests = img.record.repo_digests.clone();
            out.push(ImageSummary {
                containers: -1,
                created,
                id: img.record.id.to_string(),
                labels,
                parent_id: img
                    .record
                    .parent
                    .as_ref()
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                repo_digests: Some(digests),
                repo_tags: Some(tags),
                shared_size: -1,
                size,
                virtual_size: size,
            });
        }
        Ok(out)
    }

    pub fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        let img = self.resolve_image(name)?;
        let refs = self.images.refs()?;
        let size = self.images.size(&img) as i64;
        let c = &img.config;
        let top = img.chain_ids().last().cloned();
        let mut data = BTreeMap::new();
        if let Some(top) = &top {
            let lowers: Vec<String> = self
                .images
                .lower_dirs(&img)
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            data.insert("LowerDir".to_string(), lowers.join(":"));
            data.insert(
                "SnapshotDir".to_string(),
                self.layout.snapshot(top).display().to_string(),
            );
        }
        Ok(ImageInspect {
            id: img.record.id.to_string(),
            repo_tags: self.images.tags_of(&refs, &img.record.id),
            repo_digests: img.record.repo_digests.clone(),
            parent: img
                .record
                .parent
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            comment: c.comment.clone().unwrap_or_default(),
            created: c
                .created_time()
                .map(|t| go_rfc3339_nano(&t))
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            container: c.container.clone().unwrap_or_default(),
            container_config: c.container_config.clone().unwrap_or_default(),
            docker_version: c.docker_version.clone().unwrap_or_default(),
            author: c.author.clone().unwrap_or_default(),
            config: c.config.clone(),
            architecture: c.architecture.clone(),
            variant: c.variant.clone(),
            os: c.os.clone(),
            os_version: c.os_version.clone(),
            size,
            virtual_size: size,
            graph_driver: GraphDriver {
                data,
                name: "overlay2".into(),
            },
            root_fs: RootFs {
                kind: "layers".into(),
                layers: c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
            },
            metadata: ImageMetadata {
                last_tag_time: img
                    .record
                    .last_tag_time
                    .clone()
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            },
        })
    }

    pub fn image_history(&self, name: &str) -> Result<Vec<HistoryItem>> {
        let img = self.resolve_image(name)?;
        let refs = self.images.refs()?;
        let chain = img.chain_ids();
        let mut layer_sizes = chain.iter().map(|c| {
            self.images
                .snapshot_meta(c)
                .ok()
                .flatten()
                .map(|m| m.size)
                .unwrap_or(0)
        });
        let mut items: Vec<HistoryItem> = Vec::new();
        for h in &img.config.history {
            let size = if h.empty_layer {
                0
            } else {
                layer_sizes.next().unwrap_or(0)
            };
            let created = h
                .created
                .as_deref()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            items.push(HistoryItem {
                comment: h.comment.clone().unwrap_or_default(),
                created,
                created_by: h.created_by.clone().unwrap_or_default(),
                id: "<missing>".into(),
                size: size as i64,
                tags: None,
            });
        }
        items.reverse();
        // As Docker: entries take the IDs (and tags) of the image and its
        // parents (a committed image's parent), as far as they are known.
        let mut cur = Some(img.record.clone());
        for item in items.iter_mut() {
            let Some(rec) = cur.take() else { break };
            item.id = rec.id.to_string();
            let tags = self.images.tags_of(&refs, &rec.id);
            item.tags = if tags.is_empty() { None } else { Some(tags) };
            cur = rec
                .parent
                .as_ref()
                .and_then(|p| self.images.record(p).ok().flatten());
        }
        Ok(items)
    }

    /// `tag SOURCE TARGET`.
    pub fn image_tag(&self, source: &str, target: &str) -> Result<()> {
        let target_ref = Reference::parse(target)?;
        if target_ref.digest.is_some() {
            return Err(Error::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let id = self.images.resolve(source)?;
        let _lock = self.images.lock()?;
        self.images.set_ref(&target_ref.with_default_tag(), &id)?;
        Ok(())
    }

    /// `rmi NAME`: untag, and delete when nothing else names the image.
    pub fn image_remove(&self, name: &str, force: bool) -> Result<Vec<DeleteItem>> {
        let id = self.images.resolve(name)?;
        let _gc = self.images.gc_guard(LockMode::Exclusive)?;
        let _lock = self.images.lock()?;
        let refs = self.images.refs()?;
        let tags: Vec<String> = refs
            .iter()
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .collect();
        let by_id = is_id_prefix(&id, name);
        let mut out = Vec::new();
        // An image a container uses stays: Docker refuses, or with -f
        // only untags it, leaving the image dangling.
        let users = self.containers_using_image(&id.to_string())?;
        if let Some(user) = users.first() {
            let cid = &user.id[..12];
            if !by_id && tags.len() <= 1 {
                if !force {
                    return Err(Error::conflict(format!(
                        "conflict: unable to remove repository reference \"{name}\" (must force) - container {cid} is using its referenced image {}",
                        id.short()
                    )));
                }
            } else if by_id {
                if let Some(r) = users.iter().find(|u| u.state.running) {
                    return Err(Error::conflict(format!(
                        "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                        id.short(),
                        &r.id[..12]
                    )));
                }
                if !force {
                    return Err(Error::conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {cid}",
                        id.short()
                    )));
                }
            }
            if !by_id {
                let r = Reference::parse(name)?.with_default_tag();
                if self.images.untag(&r)?.is_some() {
                    out.push(DeleteItem::Untagged(r.familiar()));
                }
            } else {
                for t in &tags {
                    let r = Reference::parse(t)?;
                    if self.images.untag(&r)?.is_some() {
                        out.push(DeleteItem::Untagged(r.familiar()));
                    }
                }
            }
            return Ok(out);
        }
        if !by_id {
            let r = Reference::parse(name)?.with_default_tag();
            if self.images.untag(&r)?.is_some() {
                out.push(DeleteItem::Untagged(r.familiar()));
            }
            if tags.len() > 1 {
                return Ok(out);
            }
        } else if tags.len() > 1 && !force && !single_repository(&tags) {
            return Err(Error::conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                id.short()
            )));
        }
        let report = self.images.delete_image(&id)?;
        out.extend(report.untagged.into_iter().map(DeleteItem::Untagged));
        out.extend(report.deleted.into_iter().map(DeleteItem::Deleted));
        Ok(out)
    }

    /// Remove every partial download; returns the bytes freed. Caller
    /// holds the GC lock exclusively.
    fn remove_partial_downloads(&self) -> u64 {
        let Ok(rd) = std::fs::read_dir(self.layout.downloads_dir()) else {
            return 0;
        };
        let mut freed = 0;
        for e in rd.flatten() {
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            if std::fs::remove_file(e.path()).is_ok() {
                freed += size;
            }
        }
        freed
    }

    /// `image prune [-a]`: returns what was removed and the bytes reclaimed.
    /// Filters as dockerd reads them: `until`, `label`, `label!` and
    /// `dangling` (the docker CLI always sends `dangling=<!all>`; a `false`
    /// among the values means all unused images).
    pub fn image_prune(
        &self,
        all: bool,
        filters: &crate::prune::PruneFilters,
    ) -> Result<(Vec<DeleteItem>, u64)> {
        filters.validate(&["dangling", "label", "label!", "until"])?;
        let filters = filters.with("dangling", if all { "false" } else { "true" });
        let all = filters
            .get("dangling")
            .iter()
            .any(|v| matches!(*v, "false" | "0"));
        let until = filters.until()?;
        let _gc = self.images.gc_guard(LockMode::Exclusive)?;
        let _lock = self.images.lock()?;
        let refs = self.images.refs()?;
        let tagged: BTreeSet<Digest> = refs.values().cloned().collect();
        let mut used = BTreeSet::new();
        for id in self.container_ids()? {
            if let Ok(r) = self.container_get(&id) {
                used.insert(r.image);
            }
        }
        let mut out = Vec::new();
        // Layers of pulls that failed and were never retried (kept for a
        // resume): every pull holds the GC lock shared while it runs, so
        // with it held exclusively none of them is in use.
        let mut reclaimed = self.remove_partial_downloads();
        for img in self.images.all()? {
            if !all && tagged.contains(&img.record.id) || used.contains(&img.record.id.to_string())
            {
                continue;
            }
            if until.is_some_and(|u| {
                img.config
                    .created_time()
                    .is_some_and(|c| std::time::SystemTime::from(c) > u)
            }) {
                continue;
            }
            let labels = img.config.config.as_ref().and_then(|c| c.labels.as_ref());
            if img.config.config.is_some() && !filters.matches_labels(labels) {
                continue;
            }
            let sizes: BTreeMap<Digest, u64> = img
                .chain_ids()
                .into_iter()
                .filter_map(|c| {
                    self.images
                        .snapshot_meta(&c)
                        .ok()
                        .flatten()
                        .map(|m| (c, m.size))
                })
                .collect();
            let report = self.images.delete_image(&img.record.id)?;
            for d in &report.deleted {
                if let Ok(dg) = Digest::parse(d) {
                    reclaimed += sizes.get(&dg).copied().unwrap_or(0);
                }
            }
            out.extend(report.untagged.into_iter().map(DeleteItem::Untagged));
            out.extend(report.deleted.into_iter().map(DeleteItem::Deleted));
        }
        Ok((out, reclaimed))
    }

    /// `load`: every image in the archive; for each tag, the image it
    /// replaced (Docker prints a rename notice for those).
    pub fn image_load<R: Read>(&self, input: R) -> Result<Vec<archive::LoadedImage>> {
        Ok(archive::load(&self.images, input)?)
    }

    /// `save`: resolves names as Docker does (a bare repository name saves
    /// all its tags) before writing anything.
    pub fn image_save<W: Write>(&self, names: &[String], out: &mut W) -> Result<()> {
        let refs = self.images.refs()?;
        let mut order: Vec<Digest> = Vec::new();
        let mut tags: BTreeMap<Digest, Vec<Reference>> = BTreeMap::new();
        for name in names {
            let id = self
                .images
                .resolve(name)
                .map_err(|_| Error::not_found(format!("No such image: {name}")))?;
            if !order.contains(&id) {
                order.push(id.clone());
            }
            tags.entry(id.clone()).or_default();
            if is_id_prefix(&id, name) {
                continue;
            }
            let r = Reference::parse(name)?;
            let wanted: Vec<Reference> = if r.tag.is_none() && r.digest.is_none() {
                refs.keys()
                    .filter_map(|k| Reference::parse(k).ok())
                    .filter(|t| t.name() == r.name())
                    .collect()
            } else {
                vec![r.with_default_tag()]
            };
            for t in wanted {
                let Some(target) = refs.get(&t.to_string()) else {
                    continue;
                };
                if !order.contains(target) {
                    order.push(target.clone());
                }
                let list = tags.entry(target.clone()).or_default();
                if !list.contains(&t) {
                    list.push(t);
                }
            }
        }
        let mut images = Vec::new();
        for id in order {
            let img = self.images.load(&id)?;
            let t = tags.remove(&id).unwrap_or_default();
            images.push((img, t));
        }
        Ok(archive::save(&self.images, &images, out)?)
    }

    /// `import`: returns the new image ID and the image a moved tag left.
    pub fn image_import<R: Read>(
        &self,
        input: R,
        reference: Option<&str>,
        changes: Vec<String>,
        message: Option<String>,
    ) -> Result<(Digest, Option<Digest>)> {
        let tag = reference
            .map(|r| Reference::parse(r).map(|r| r.with_default_tag()))
            .transpose()?;
        Ok(import::import(
            &self.images,
            input,
            ImportOptions {
                changes,
                message,
                tag,
            },
        )?)
    }

    /// Every problem `debug check-store` finds; empty means consistent.
    pub fn check_store(&self) -> Result<Vec<String>> {
        let mut problems = self.images.check()?;
        problems.extend(self.network_check()?);
        Ok(problems)
    }
}

fn label_matches(labels: Option<&BTreeMap<String, String>>, filter: &str) -> bool {
    let Some(labels) = labels else { return false };
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

/// Did the user name the image by (a prefix of) its ID?
fn is_id_prefix(id: &Digest, name: &str) -> bool {
    let n = name.strip_prefix("sha256:").unwrap_or(name);
    !n.is_empty() && id.hex().starts_with(n)
}

/// Docker lets `rmi <id>` untag without force only when every reference
/// is in one repository and at most one of them is a tag.
fn single_repository(tags: &[String]) -> bool {
    let names: BTreeSet<String> = tags
        .iter()
        .filter_map(|t| Reference::parse(t).ok().map(|r| r.name()))
        .collect();
    names.len() <= 1 && tags.len() <= 1
}

/// Validate a reference the way `docker import`/`tag` do before any work.
pub fn check_reference(r: &str) -> Result<()> {
    Reference::parse(r)
        .map(|_| ())
        .map_err(|e| Error::invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_is_go_path_match() {
        assert!(glob_match("bb*", "bbtest"));
        assert!(!glob_match("bb*", "a/bb"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("*/*", "a/b"));
        assert!(glob_match("b?sybox:1.[0-9]", "busybox:1.5"));
    }

    #[test]
    fn filters_reject_unknown_keys() {
        let e = ImageFilters::parse(&["foo=bar".into()]).unwrap_err();
        assert_eq!(e.message, "Invalid filter 'foo'");
        let e = ImageFilters::parse(&["dangling=maybe".into()]).unwrap_err();
        assert_eq!(e.message, "Invalid filter 'dangling=[maybe]'");
    }
}
