//! Differential checks against real Docker and Podman: archives berth
//! writes load there with the same image ID and run, and archives Docker
//! writes load in berth with the same ID. Docker runs as a private dockerd
//! (own data root, socket, no bridge or iptables) and Podman with its own
//! storage, so the machine's engines and configuration are untouched.
//! Skipped (with a message) where dockerd or podman is not installed.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::dockerd::Dockerd;
use common::*;

#[test]
fn docker_and_podman_agree_on_berth_archives() {
    let r = Root::new();
    let id = r.busybox("crosscheck:1");
    let work = tempfile::tempdir().unwrap();
    let archive: PathBuf = work.path().join("berth.tar");
    r.ok(&["save", "-o", archive.to_str().unwrap(), "crosscheck:1"]);

    if let Some(d) = Dockerd::start() {
        let o = d.docker(&["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(o.code, 0, "docker load: {}", o.stderr);
        assert_eq!(o.stdout.trim(), "Loaded image: crosscheck:1");
        let o = d.docker(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Size}}",
            "crosscheck:1",
        ]);
        let berth_view = r.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Size}}",
            "crosscheck:1",
        ]);
        assert_eq!(
            o.stdout, berth_view,
            "docker and berth disagree on ID or size"
        );
        assert!(o.stdout.starts_with(&id));
        let o = d.docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "crosscheck:1",
            "echo",
            "ran in docker",
        ]);
        assert_eq!(
            (o.code, o.stdout.trim()),
            (0, "ran in docker"),
            "{}",
            o.stderr
        );

        // And back: an image Docker made and saved loads in berth with Docker's ID.
        let rootfs = tar_of(&[E::Dir("bin/"), E::File("bin/x", b"from docker")]);
        let rf = work.path().join("rootfs.tar");
        std::fs::write(&rf, &rootfs).unwrap();
        let o = d.docker(&[
            "import",
            "-c",
            "CMD [\"x\"]",
            rf.to_str().unwrap(),
            "fromdocker:1",
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let docker_id = o.stdout.trim().to_string();
        let saved = work.path().join("docker.tar");
        let o = d.docker(&["save", "-o", saved.to_str().unwrap(), "fromdocker:1"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let r2 = Root::new();
        assert_eq!(
            r2.ok(&["load", "-i", saved.to_str().unwrap()]),
            "Loaded image: fromdocker:1\n"
        );
        assert_eq!(r2.ok(&["images", "-q", "--no-trunc"]).trim(), docker_id);
        // The raw inspect documents (the daemon's API 1.41 JSON) agree on
        // everything but where each engine keeps its files and tag times.
        let dj: serde_json::Value =
            serde_json::from_str(&d.docker(&["image", "inspect", "fromdocker:1"]).stdout).unwrap();
        let bj: serde_json::Value =
            serde_json::from_str(&r2.ok(&["image", "inspect", "fromdocker:1"])).unwrap();
        let (dj, bj) = (dj[0].as_object().unwrap(), bj[0].as_object().unwrap());
        assert_eq!(dj.keys().collect::<Vec<_>>(), bj.keys().collect::<Vec<_>>());
        for (k, v) in dj {
            if k != "GraphDriver" && k != "Metadata" {
                assert_eq!(&bj[k], v, "inspect field {k}");
            }
        }
        let docker_images = d.docker(&[
            "images",
            "--format",
            "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}} {{.VirtualSize}}",
        ]);
        let berth_images = r2.ok(&[
            "images",
            "--format",
            "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}} {{.VirtualSize}}",
        ]);
        assert!(
            docker_images.stdout.contains(berth_images.trim()),
            "{}\nvs\n{berth_images}",
            docker_images.stdout
        );
    }

    if Command::new("podman").arg("--version").output().is_ok() {
        let storage = tempfile::Builder::new()
            .prefix("berth-podman-")
            .tempdir_in("/tmp")
            .unwrap();
        let o = podman(storage.path(), &["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(o.code, 0, "podman load: {}", o.stderr);
        assert!(
            o.stdout
                .contains("Loaded image: docker.io/library/crosscheck:1"),
            "{}",
            o.stdout
        );
        let o = podman(
            storage.path(),
            &["image", "inspect", "-f", "{{.Id}}", "crosscheck:1"],
        );
        assert_eq!(format!("sha256:{}", o.stdout.trim()), id);
        let o = podman(
            storage.path(),
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "crosscheck:1",
                "echo",
                "ran in podman",
            ],
        );
        assert_eq!(
            (o.code, o.stdout.trim()),
            (0, "ran in podman"),
            "{}",
            o.stderr
        );
        // And back: both of podman's archive formats load in berth with the same ID.
        assert_eq!(
            podman(
                storage.path(),
                &["tag", "crosscheck:1", "localhost/other:2"]
            )
            .code,
            0
        );
        for format in ["docker-archive", "oci-archive"] {
            let out = work.path().join(format!("podman-{format}.tar"));
            let o = podman(
                storage.path(),
                &[
                    "save",
                    "-q",
                    "--format",
                    format,
                    "-o",
                    out.to_str().unwrap(),
                    "localhost/other:2",
                ],
            );
            assert_eq!(o.code, 0, "podman save {format}: {}", o.stderr);
            let r3 = Root::new();
            assert_eq!(
                r3.ok(&["load", "-i", out.to_str().unwrap()]),
                "Loaded image: localhost/other:2\n",
                "{format}"
            );
            assert_eq!(
                r3.ok(&["images", "-q", "--no-trunc"]).trim(),
                id,
                "{format}"
            );
        }
        let _ = podman(storage.path(), &["system", "reset", "--force"]);
        let _ = Command::new("umount")
            .arg("-R")
            .arg(storage.path())
            .stderr(Stdio::null())
            .status();
    } else {
        eprintln!("skipping podman: not installed");
    }
}
