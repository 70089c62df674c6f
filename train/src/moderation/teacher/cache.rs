//! Teacher answers cached on disk, so that labelling the same texts again costs no request.
//!
//! One small JSON file per answer, at `DIR/<key[0..2]>/<key>.json`, where the key is the
//! SHA-256 of the policy's content hash, the prompt template version, the prompt format's name,
//! the teacher model's name and the SHA-256 of the text (see [`cache_key`]). Changing any of
//! them (a policy edit, a new template, another model) misses the cache; nothing else does.
//! Files are written to a temporary name and renamed, so an interrupted run never leaves a
//! half-written entry; unreadable entries count as misses.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The tag that starts the hashed key.
pub const KEY_DOMAIN: &[u8] = b"mote-label-cache/1\0";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex SHA-256 of a text's UTF-8 bytes.
pub fn text_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// The cache key: lower-case hex SHA-256 of [`KEY_DOMAIN`] then, each as its u32 little-endian
/// byte length and bytes, the policy hash, template version, format name, model name and the
/// text's [`text_hash`].
pub fn cache_key(
    policy_hash: &str,
    template: &str,
    format: &str,
    model: &str,
    text: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(KEY_DOMAIN);
    for part in [policy_hash, template, format, model, &text_hash(text)] {
        h.update((part.len() as u32).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// A directory of cached answers.
#[derive(Debug, Clone)]
pub struct LabelCache {
    dir: PathBuf,
}

impl LabelCache {
    /// The cache in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> LabelCache {
        LabelCache { dir: dir.into() }
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The labels stored under `key`, in `categories` order, if present and complete.
    pub fn get(&self, key: &str, categories: &[&str]) -> Option<Vec<bool>> {
        let text = std::fs::read_to_string(self.path(key)).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        let labels = value.get("labels")?.as_object()?;
        if labels.len() != categories.len() {
            return None;
        }
        categories
            .iter()
            .map(|c| labels.get(*c)?.as_u64().filter(|&v| v <= 1).map(|v| v == 1))
            .collect()
    }

    /// Stores `labels` under `key`, with what produced them (for people reading the cache).
    pub fn put(
        &self,
        key: &str,
        categories: &[&str],
        labels: &[bool],
        about: &[(&str, &str)],
    ) -> std::io::Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("cache entries live in a folder");
        std::fs::create_dir_all(dir)?;
        let mut entry = serde_json::Map::new();
        for (k, v) in about {
            entry.insert((*k).into(), serde_json::Value::String((*v).into()));
        }
        let labels: serde_json::Map<String, serde_json::Value> = categories
            .iter()
            .zip(labels)
            .map(|(c, &l)| ((*c).to_string(), serde_json::Value::from(u8::from(l))))
            .collect();
        entry.insert("labels".into(), serde_json::Value::Object(labels));
        let text = serde_json::to_string(&serde_json::Value::Object(entry))
            .expect("a JSON map serialises");
        let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_depend_on_every_part() {
        let k = cache_key("p", "policy-prompt/1", "f", "m", "hello");
        assert_eq!(k.len(), 64);
        assert_eq!(k, cache_key("p", "policy-prompt/1", "f", "m", "hello"));
        // Pinned: the key rule is part of the on-disk format.
        assert_eq!(
            text_hash("hello"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let others = [
            cache_key("q", "policy-prompt/1", "f", "m", "hello"),
            cache_key("p", "policy-prompt/2", "f", "m", "hello"),
            cache_key("p", "policy-prompt/1", "g", "m", "hello"),
            cache_key("p", "policy-prompt/1", "f", "n", "hello"),
            cache_key("p", "policy-prompt/1", "f", "m", "hello!"),
            // Length prefixes: moving a byte between parts changes the key.
            cache_key("p", "policy-prompt/1", "fm", "", "hello"),
        ];
        for o in others {
            assert_ne!(o, k);
        }
    }

    #[test]
    fn put_then_get() {
        let dir = std::env::temp_dir().join(format!("mote-cache-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = LabelCache::new(&dir);
        let cats = ["a", "b"];
        let key = cache_key("p", "t", "f", "m", "x");
        assert_eq!(cache.get(&key, &cats), None);
        cache
            .put(&key, &cats, &[true, false], &[("model", "m")])
            .unwrap();
        assert_eq!(cache.get(&key, &cats), Some(vec![true, false]));
        assert_eq!(cache.get(&key, &["a", "c"]), None, "other categories miss");
        std::fs::write(cache.path(&key), "garbage").unwrap();
        assert_eq!(cache.get(&key, &cats), None, "a damaged entry is a miss");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
