//! Saving the vector index on a full disk (a small tmpfs): a clear disk-full error, no temporary
//! file left, and the last saved state intact. usearch ignores the error of its final flush, so
//! only a size check after the write catches a truncated file. Mounting needs root (the test
//! command runs as root in CI); as another user the test says so and passes. The whole indexing
//! path on a full disk is tested through the `cairn` binary in tests/disk_full.rs.

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_core::catalog::ChunkId;
use cairn_core::index::vector::VectorIndex;

const DIM: usize = 384;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn vector(i: usize) -> Vec<f32> {
    (0..DIM)
        .map(|d| ((i * 31 + d * 7) % 97) as f32 + 1.0)
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_vector_index_save_on_a_full_disk_fails_cleanly() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root (the test command runs as root in CI)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "mount: {status}");
    let _mount = Tmpfs(dir.clone());

    let mut index = VectorIndex::open(&dir, "model", DIM).unwrap();
    for i in 0..100 {
        index
            .add(ChunkId::from_key(i as u64 + 1), &vector(i))
            .unwrap();
    }
    index.save(1).unwrap();
    assert_eq!(names(&dir), ["vectors.json", "vectors.usearch"]);

    // 1,000 more vectors of 1.5 KiB do not fit in 1 MiB.
    for i in 100..1100 {
        index
            .add(ChunkId::from_key(i as u64 + 1), &vector(i))
            .unwrap();
    }
    let err = index.save(2).unwrap_err();
    assert!(err.is_disk_full(), "{err:?}");
    assert!(err.is_user_error());
    assert_eq!(names(&dir), ["vectors.json", "vectors.usearch"], "{err}");

    let saved = VectorIndex::open(&dir, "model", DIM).unwrap();
    assert_eq!((saved.generation(), saved.len()), (1, 100));
}
