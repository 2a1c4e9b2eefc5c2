//! Durable files under the data directory: every write is atomic (temp file, fsync, rename,
//! fsync of the directory), so a crash or a restart never leaves a half-written table, partition
//! or commit behind.
//!
//! A committed upload or a stream pack is one *pack file*: a magic, an overwrite flag, and the
//! accepted record streams (uncompressed, exactly as validated) each prefixed by its length.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const PACK_MAGIC: &[u8; 8] = b"MCEPACK1";

/// Everything but `[A-Za-z0-9_-]` is escaped, so any name or partition value is one safe path
/// component.
const NAME_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'-');

/// A storage failure, with the path involved.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("corrupt file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One path component for a name (lower-cased by the caller when names are case-insensitive).
pub fn encode_component(name: &str) -> String {
    utf8_percent_encode(name, NAME_ESCAPES).to_string()
}

pub fn decode_component(component: &str) -> String {
    percent_decode_str(component)
        .decode_utf8_lossy()
        .into_owned()
}

pub fn create_dir_all(path: &Path) -> Result<(), StorageError> {
    fs::create_dir_all(path).map_err(io_err(path))
}

pub fn read(path: &Path) -> Result<Vec<u8>, StorageError> {
    fs::read(path).map_err(io_err(path))
}

/// Writes `bytes` to `path` so that readers see either the old file or the complete new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = path.parent().ok_or_else(|| StorageError::Corrupt {
        path: path.to_path_buf(),
        reason: "no parent directory".into(),
    })?;
    create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, path).map_err(io_err(path))?;
        // The rename is durable only once the directory entry is.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Sub-directories of `dir` (an absent directory has none).
pub fn list_dirs(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    list(dir, true)
}

/// Regular files of `dir`, skipping temp files left by an interrupted write.
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let mut files = list(dir, false)?;
    files.retain(|p| {
        !p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".tmp-"))
    });
    Ok(files)
}

fn list(dir: &Path, dirs: bool) -> Result<Vec<PathBuf>, StorageError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let kind = entry.file_type().map_err(io_err(&entry.path()))?;
        if kind.is_dir() == dirs {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

pub fn remove_file(path: &Path) -> Result<(), StorageError> {
    fs::remove_file(path).map_err(io_err(path))
}

/// A pack file's content: the streams of one commit or stream write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    /// True when this pack replaces everything committed before it (batch `overwrite=true`).
    pub overwrite: bool,
    /// Complete, validated record streams (each with its footer), uncompressed.
    pub streams: Vec<Vec<u8>>,
}

impl Pack {
    pub fn to_bytes(&self) -> Vec<u8> {
        let len: usize = self.streams.iter().map(|s| s.len() + 8).sum();
        let mut out = Vec::with_capacity(PACK_MAGIC.len() + 1 + len);
        out.extend_from_slice(PACK_MAGIC);
        out.push(u8::from(self.overwrite));
        for stream in &self.streams {
            out.extend_from_slice(&(stream.len() as u64).to_le_bytes());
            out.extend_from_slice(stream);
        }
        out
    }

    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Pack, StorageError> {
        let corrupt = |reason: &str| StorageError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let rest = bytes
            .strip_prefix(PACK_MAGIC.as_slice())
            .ok_or_else(|| corrupt("bad magic"))?;
        let (&flag, mut rest) = rest.split_first().ok_or_else(|| corrupt("no header"))?;
        let mut streams = Vec::new();
        while !rest.is_empty() {
            if rest.len() < 8 {
                return Err(corrupt("truncated length"));
            }
            let (len, tail) = rest.split_at(8);
            let len = u64::from_le_bytes(len.try_into().unwrap_or_default());
            let len = usize::try_from(len).map_err(|_| corrupt("length overflow"))?;
            if tail.len() < len {
                return Err(corrupt("truncated stream"));
            }
            let (stream, tail) = tail.split_at(len);
            streams.push(stream.to_vec());
            rest = tail;
        }
        Ok(Pack {
            overwrite: flag == 1,
            streams,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_and_rejects_truncation() {
        let pack = Pack {
            overwrite: true,
            streams: vec![b"abc".to_vec(), Vec::new(), vec![0xff; 300]],
        };
        let bytes = pack.to_bytes();
        let path = Path::new("x.pack");
        assert_eq!(Pack::from_bytes(path, &bytes).unwrap(), pack);
        assert!(Pack::from_bytes(path, &bytes[..bytes.len() - 1]).is_err());
        assert!(Pack::from_bytes(path, b"NOTAPACK").is_err());
    }

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.json"]);
    }

    #[test]
    fn components_escape_separators() {
        let c = encode_component("a/b=c,d é");
        assert!(!c.contains('/') && !c.contains('='), "{c}");
        assert_eq!(decode_component(&c), "a/b=c,d é");
    }
}
