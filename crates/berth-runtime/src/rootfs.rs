//! The container's root filesystem: an overlay of the image's unpacked
//! layers (read-only, shared) under the container's own upper dir.
#![allow(unsafe_code)] // mount(2) and umount2(2)

use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Mount data must fit in one page; longer lower-dir lists need the new
/// mount API, which this does not use yet.
const MAX_MOUNT_DATA: usize = 4000;

/// Mount `lowers` (topmost first) + `upper`/`work` at `target`.
/// `volatile` skips overlayfs's syncs of the upper dir (including the one
/// at unmount): for containers whose writes are thrown away (`--rm`).
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    volatile: bool,
) -> std::io::Result<()> {
    for d in [upper, work, target] {
        std::fs::create_dir_all(d)?;
    }
    let empty;
    let lowers: Vec<&Path> = if lowers.is_empty() {
        // overlayfs needs at least one lower dir; a scratch image has none.
        empty = upper.with_file_name("empty");
        std::fs::create_dir_all(&empty)?;
        vec![empty.as_path()]
    } else {
        lowers.iter().map(|p| p.as_path()).collect()
    };
    let lower = lowers
        .iter()
        .map(|p| escape(p))
        .collect::<Vec<_>>()
        .join(":");
    let data = format!(
        "lowerdir={lower},upperdir={},workdir={},index=off",
        escape(upper),
        escape(work)
    );
    if data.len() > MAX_MOUNT_DATA {
        return Err(std::io::Error::other(format!(
            "image has too many layers to mount ({})",
            lowers.len()
        )));
    }
    let c = |s: &str| CString::new(s).map_err(|_| std::io::Error::other("NUL in path"));
    let src = c("overlay")?;
    let fstype = c("overlay")?;
    let tgt = c(&target.display().to_string())?;
    let mount = |data: &str| -> std::io::Result<()> {
        let data = c(data)?;
        // SAFETY: all pointers are valid C strings for the call's duration.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                tgt.as_ptr(),
                fstype.as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    if volatile {
        // Kernels before 5.10 do not know the option: mount without it.
        if mount(&format!("{data},volatile")).is_ok() {
            return Ok(());
        }
    }
    mount(&data)
}

/// overlayfs splits its options on `,` and lower dirs on `:`.
fn escape(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

/// Whether something is mounted exactly at `target`.
/// mount(2) of a filesystem (a volume's driver options): empty `fstype`
/// and `data` are passed as NULL.
pub fn mount_fs(
    device: &str,
    target: &Path,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> std::io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(|_| std::io::Error::other("NUL in mount argument"));
    let (dev, tgt, ty, dat) = (
        c(device)?,
        c(&target.display().to_string())?,
        c(fstype)?,
        c(data)?,
    );
    // SAFETY: valid C strings that outlive the call; NULL where allowed.
    let r = unsafe {
        libc::mount(
            dev.as_ptr(),
            tgt.as_ptr(),
            if fstype.is_empty() {
                std::ptr::null()
            } else {
                ty.as_ptr()
            },
            flags,
            if data.is_empty() {
                std::ptr::null()
            } else {
                dat.as_ptr().cast()
            },
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn is_mounted(target: &Path) -> bool {
    let Ok(m) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let t = target.display().to_string();
    m.lines()
        .any(|l| l.split(' ').nth(4).map(unescape_mountinfo).as_deref() == Some(t.as_str()))
}

fn unescape_mountinfo(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Unmount `target` (lazily if busy); not mounted is fine.
pub fn unmount(target: &Path) -> std::io::Result<()> {
    let tgt = CString::new(target.display().to_string())
        .map_err(|_| std::io::Error::other("NUL in path"))?;
    loop {
        // SAFETY: a valid C string path.
        let r = unsafe { libc::umount2(tgt.as_ptr(), libc::UMOUNT_NOFOLLOW) };
        if r == 0 {
            continue; // stacked mounts: peel every one
        }
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOENT) => Ok(()),
            Some(libc::EBUSY) => {
                // SAFETY: as above.
                if unsafe { libc::umount2(tgt.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) }
                    == 0
                {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            }
            _ => Err(e),
        };
    }
}
