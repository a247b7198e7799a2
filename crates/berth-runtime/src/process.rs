//! The container's process, from image config + `run` options, with
//! Docker's rules: `--entrypoint` drops the image's Cmd; env is
//! `PATH, HOSTNAME, [TERM]`, then the image's, then the user's, each later
//! `KEY=v` replacing an earlier KEY in place and a bare `KEY` deleting it;
//! users and groups resolve through the image's `/etc/passwd` and
//! `/etc/group`; an explicit group means no supplementary groups.

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("No command specified")]
    NoCommand,
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeWorkdir(String),
}

/// The parts of an image config that shape the process.
#[derive(Debug, Default, Clone)]
pub struct ImageProcess {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
}

/// What `run`/`create` flags say about the process.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// `--entrypoint`: `Some(vec![])` for `--entrypoint ""`.
    pub entrypoint: Option<Vec<String>>,
    /// Arguments after the image name.
    pub cmd: Vec<String>,
    /// `-e`/`--env-file` entries, already expanded from the caller's env
    /// where they named only a key that is set there.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub group_add: Vec<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub hostname: String,
}

/// The resolved process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

/// Reads a file of the container's root filesystem (`/etc/passwd`,
/// `/etc/group`); `None` when it is missing. The caller confines the read
/// to the rootfs.
pub type ReadRootfsFile<'a> = &'a dyn Fn(&str) -> Option<Vec<u8>>;

/// `KEY=v` replaces KEY in place or appends; a bare `KEY` removes it.
pub fn replace_or_append(env: &mut Vec<String>, entries: &[String]) {
    for e in entries {
        let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
        let pos = env
            .iter()
            .position(|x| x.split_once('=').map(|(k, _)| k).unwrap_or(x) == key);
        match (pos, e.contains('=')) {
            (Some(i), true) => env[i] = e.clone(),
            (None, true) => env.push(e.clone()),
            (Some(i), false) => {
                env.remove(i);
            }
            (None, false) => {}
        }
    }
}

/// One line of an `/etc/passwd` (also used by builds for `COPY --chown`).
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One line of an `/etc/group`.
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The well-formed entries of a passwd file; malformed lines are skipped.
pub fn parse_passwd(b: &[u8]) -> Vec<PasswdEntry> {
    String::from_utf8_lossy(b)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// The well-formed entries of a group file; malformed lines are skipped.
pub fn parse_group(b: &[u8]) -> Vec<GroupEntry> {
    String::from_utf8_lossy(b)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|x| !x.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolve `user[:group]` against the image's files, as runc's
/// `GetExecUser` does. Returns uid, gid, supplementary gids and home.
fn resolve_user(
    spec: &str,
    group_add: &[String],
    read: ReadRootfsFile<'_>,
) -> Result<(u32, u32, Vec<u32>, String), Error> {
    let passwd = read("/etc/passwd")
        .map(|b| parse_passwd(&b))
        .unwrap_or_default();
    let groups = read("/etc/group")
        .map(|b| parse_group(&b))
        .unwrap_or_default();
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|p| p.uid == uid),
        Err(_) => Some(
            passwd
                .iter()
                .find(|p| p.name == user)
                .ok_or_else(|| Error::NoSuchUser(user.to_string()))?,
        ),
    };
    let uid = match (user.parse::<u32>(), entry) {
        (Ok(n), _) => n,
        (Err(_), Some(e)) => e.uid,
        (Err(_), None) => 0,
    };
    let home = entry
        .map(|e| e.home.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into());
    let find_group = |g: &str| -> Result<u32, Error> {
        match g.parse::<u32>() {
            Ok(n) => Ok(n),
            Err(_) => groups
                .iter()
                .find(|x| x.name == g)
                .map(|x| x.gid)
                .ok_or_else(|| Error::NoSuchGroup(g.to_string())),
        }
    };
    let (gid, mut extra) = match group.filter(|g| !g.is_empty()) {
        // An explicit group is also the only supplementary one, as
        // `docker run -u uid:gid ... id` shows (`groups=gid`).
        Some(g) => {
            let gid = find_group(g)?;
            (gid, vec![gid])
        }
        None => {
            // runc's GetExecUser: every group that is the primary one or
            // lists the user as a member.
            let gid = entry.map(|e| e.gid).unwrap_or(0);
            let name = entry.map(|e| e.name.as_str());
            let extra: Vec<u32> = groups
                .iter()
                .filter(|g| g.gid == gid || name.is_some_and(|n| g.members.iter().any(|m| m == n)))
                .map(|g| g.gid)
                .collect();
            (gid, extra)
        }
    };
    for g in group_add {
        let n = find_group(g)?;
        if !extra.contains(&n) {
            extra.push(n);
        }
    }
    extra.sort_unstable();
    Ok((uid, gid, extra, home))
}

/// Combine image config and run options into the process Docker would run.
pub fn resolve(
    image: &ImageProcess,
    opts: &RunOptions,
    read: ReadRootfsFile<'_>,
) -> Result<Process, Error> {
    let (entrypoint, cmd) = match &opts.entrypoint {
        Some(ep) => (ep.clone(), opts.cmd.clone()),
        None => {
            let cmd = if opts.cmd.is_empty() {
                image.cmd.clone().unwrap_or_default()
            } else {
                opts.cmd.clone()
            };
            (image.entrypoint.clone().unwrap_or_default(), cmd)
        }
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(Error::NoCommand);
    }
    let cwd = match &opts.workdir {
        Some(w) if !w.starts_with('/') => return Err(Error::RelativeWorkdir(w.clone())),
        Some(w) => w.clone(),
        None if image.working_dir.is_empty() => "/".to_string(),
        None => image.working_dir.clone(),
    };
    let user = opts.user.clone().unwrap_or_else(|| image.user.clone());
    let (uid, gid, additional_gids, home) = resolve_user(&user, &opts.group_add, read)?;

    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", opts.hostname),
    ];
    if opts.tty {
        env.push("TERM=xterm".into());
    }
    replace_or_append(&mut env, &image.env);
    replace_or_append(&mut env, &opts.env);
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    Ok(Process {
        args,
        env,
        cwd,
        uid,
        gid,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:100::/home/bob:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nusers:x:100:alice\nalice:x:1000:\nstaff:x:50:alice,bob\n";

    fn files(p: &str) -> Option<Vec<u8>> {
        match p {
            "/etc/passwd" => Some(PASSWD.as_bytes().to_vec()),
            "/etc/group" => Some(GROUP.as_bytes().to_vec()),
            _ => None,
        }
    }

    fn image() -> ImageProcess {
        ImageProcess {
            cmd: Some(vec!["sh".into()]),
            env: vec!["FOO=bar".into()],
            working_dir: "/tmp".into(),
            ..Default::default()
        }
    }

    fn run(opts: RunOptions) -> Result<Process, Error> {
        resolve(
            &image(),
            &RunOptions {
                hostname: "h".into(),
                ..opts
            },
            &files,
        )
    }

    fn ids(user: &str, add: &[&str]) -> (u32, u32, Vec<u32>) {
        let p = run(RunOptions {
            user: Some(user.into()),
            group_add: add.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap();
        (p.uid, p.gid, p.additional_gids)
    }

    /// Each case was run through `docker run ... id` (Docker 20.10, runc 1.1.5).
    #[test]
    fn users_and_groups_resolve_as_in_docker() {
        assert_eq!(ids("alice", &[]), (1000, 1000, vec![50, 100, 1000]));
        assert_eq!(ids("bob", &[]), (1001, 100, vec![50, 100]));
        assert_eq!(ids("1000", &[]), (1000, 1000, vec![50, 100, 1000]));
        // An explicit group: `id` in Docker prints `groups=50(staff)`.
        assert_eq!(ids("1234:50", &[]), (1234, 50, vec![50]));
        assert_eq!(ids("alice:staff", &[]), (1000, 50, vec![50]));
        assert_eq!(ids("bob", &["staff"]), (1001, 100, vec![50, 100]));
        // Docker's spec for the default user lists the primary group: [0].
        assert_eq!(ids("", &[]), (0, 0, vec![0]));
        assert_eq!(ids("4321", &[]), (4321, 0, vec![0]));
        let e = run(RunOptions {
            user: Some("nosuch".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find user nosuch: no matching entries in passwd file"
        );
        let e = run(RunOptions {
            user: Some("alice:nogroup".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
    }

    #[test]
    fn env_order_and_removal_match_docker() {
        let p = run(RunOptions::default()).unwrap();
        assert_eq!(
            p.env,
            vec![
                format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=h".into(),
                "FOO=bar".into(),
                "HOME=/root".into()
            ]
        );
        let p = run(RunOptions {
            env: vec!["FOO".into(), "X=1".into()],
            tty: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            p.env,
            vec![
                format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=h".into(),
                "TERM=xterm".into(),
                "X=1".into(),
                "HOME=/root".into()
            ]
        );
        let p = run(RunOptions {
            env: vec!["PATH=/x".into()],
            user: Some("alice".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.env[0], "PATH=/x");
        assert_eq!(p.env.last().unwrap(), "HOME=/home/alice");
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_in_docker() {
        let img = ImageProcess {
            entrypoint: Some(vec!["/ep".into()]),
            cmd: Some(vec!["a".into()]),
            ..Default::default()
        };
        let go = |opts: RunOptions| resolve(&img, &opts, &files).map(|p| p.args);
        assert_eq!(go(RunOptions::default()).unwrap(), ["/ep", "a"]);
        assert_eq!(
            go(RunOptions {
                cmd: vec!["b".into()],
                ..Default::default()
            })
            .unwrap(),
            ["/ep", "b"]
        );
        assert_eq!(
            go(RunOptions {
                entrypoint: Some(vec!["/x".into()]),
                ..Default::default()
            })
            .unwrap(),
            ["/x"]
        );
        assert_eq!(
            go(RunOptions {
                entrypoint: Some(vec![]),
                cmd: vec!["c".into()],
                ..Default::default()
            })
            .unwrap(),
            ["c"]
        );
        assert_eq!(
            go(RunOptions {
                entrypoint: Some(vec![]),
                ..Default::default()
            })
            .unwrap_err(),
            Error::NoCommand
        );
        let p = run(RunOptions {
            workdir: Some("/new/dir".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.cwd, "/new/dir");
        assert_eq!(run(RunOptions::default()).unwrap().cwd, "/tmp");
        assert!(matches!(
            run(RunOptions {
                workdir: Some("rel".into()),
                ..Default::default()
            }),
            Err(Error::RelativeWorkdir(_))
        ));
    }
}
