//! Trinvis session recordings in MCAP: one file per session, one channel
//! per stream, JSON messages with a JSON Schema each, zstd-compressed
//! chunks, session metadata. Readable by Foxglove, Rerun and Python's `mcap`.
//!
//! - [`Writer`] appends messages; [`Writer::flush`] closes the current chunk,
//!   and the console calls it at least once a second, so a killed console
//!   loses at most about a second.
//! - [`Recording::read`] reads a whole file, or a file cut short up to its
//!   last complete chunk, into messages ordered by time, with seeking.
//! - [`recover`] writes a clean, indexed copy of a cut file.
//!
//! ```
//! use recording::{Channel, Metadata, Recording, Writer};
//! let mut file = std::io::Cursor::new(Vec::new());
//! let mut writer = Writer::new(&mut file, &Metadata::example()).unwrap();
//! writer.write(Channel::Events, 2_000, br#"{"type":"panic"}"#).unwrap();
//! writer.write(Channel::Commands, 1_000, br#"{"id":1}"#).unwrap();
//! writer.finish().unwrap();
//! let recording = Recording::read(file.get_ref()).unwrap();
//! assert!(recording.complete);
//! assert_eq!(recording.messages.iter().map(|m| m.log_time_us).collect::<Vec<_>>(), [1_000, 2_000]);
//! ```
//!
//! Times are microseconds since the Unix epoch on the console's clock.
//! Architecture invariant: no async runtime, no knowledge of the protocol's
//! types; messages are JSON bytes. Only this crate knows MCAP.

pub mod image;
pub mod parts;
mod schemas;

use std::collections::BTreeMap;
use std::io::{Seek, Write};

use mcap::records::Record;
use serde::{Deserialize, Serialize};

/// The streams of a session, one MCAP channel each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// One message per telemetry sample (frame).
    Telemetry,
    /// One message per session-engine event.
    Events,
    /// One message per command sent to the headset.
    Commands,
    /// One message per command acknowledgement from the headset.
    Acks,
    /// The console's own notes: connections, link cuts, clock offsets.
    Annotations,
    /// What the patient saw, a JPEG now and then, as `foxglove.CompressedImage`
    /// ([`image`]), so that viewers show it without knowing Trinvis.
    Mirror,
}

impl Channel {
    /// Every channel, in the order they are created in a file.
    pub const ALL: [Channel; 6] =
        [Channel::Telemetry, Channel::Events, Channel::Commands, Channel::Acks, Channel::Annotations, Channel::Mirror];

    /// The MCAP topic.
    pub fn topic(self) -> &'static str {
        match self {
            Channel::Telemetry => "/telemetry",
            Channel::Events => "/events",
            Channel::Commands => "/commands",
            Channel::Acks => "/acks",
            Channel::Annotations => "/annotations",
            Channel::Mirror => "/mirror",
        }
    }

    /// The channel with this topic.
    pub fn from_topic(topic: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.topic() == topic)
    }
}

/// What a recording is of. Written as the MCAP metadata record `trinvis`.
/// Only a pseudonymous patient code, never a name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The console's id for the session.
    pub session_id: String,
    /// Pseudonymous patient code.
    pub patient_code: String,
    /// The headset's id.
    pub headset_id: String,
    /// Headset app name and version.
    pub headset_app: String,
    /// Console name and version.
    pub console_app: String,
    /// Scenario id.
    pub scenario_id: String,
    /// Scenario version.
    pub scenario_version: String,
    /// SHA-256 of the scenario file.
    pub scenario_sha256: String,
    /// When the session began, RFC 3339 UTC.
    pub started: String,
    /// When the session began, µs since the Unix epoch.
    pub started_unix_us: u64,
    /// `headset clock - console clock` at the start, µs (later estimates are
    /// annotations).
    pub clock_offset_us: i64,
    /// The scenario's steps as the headset listed them in its `hello`: a
    /// JSON array of `{"id", "title"}`; absent (empty) when it sent none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scenario_steps: String,
    /// Whether the file holds pictures of what the patient saw, and how
    /// often: `"off"`, or `"jpeg every N s on /mirror"`. Absent (empty) in
    /// files from before the mirror, which hold none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mirror: String,
}

impl Metadata {
    /// Made-up metadata for examples and tests.
    pub fn example() -> Metadata {
        Metadata {
            session_id: "20261126T101500Z-5f3a".into(),
            patient_code: "P-0042".into(),
            headset_id: "quest-3-lab-2".into(),
            headset_app: "trinvis-headset 0.1.0".into(),
            console_app: "trinvis-console 0.1.0".into(),
            scenario_id: "spiders".into(),
            scenario_version: "1.0.0".into(),
            scenario_sha256: "9f2c".into(),
            started: "2026-11-26T10:15:00Z".into(),
            started_unix_us: 1_795_688_100_000_000,
            clock_offset_us: 0,
            scenario_steps: String::new(),
            mirror: String::new(),
        }
    }

    fn to_map(&self) -> BTreeMap<String, String> {
        let value = serde_json::to_value(self).unwrap_or_default();
        value
            .as_object()
            .map(|o| {
                o.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            })
            .unwrap_or_default()
    }

    fn from_map(map: &BTreeMap<String, String>) -> Metadata {
        let text = |k: &str| map.get(k).cloned().unwrap_or_default();
        Metadata {
            session_id: text("session_id"),
            patient_code: text("patient_code"),
            headset_id: text("headset_id"),
            headset_app: text("headset_app"),
            console_app: text("console_app"),
            scenario_id: text("scenario_id"),
            scenario_version: text("scenario_version"),
            scenario_sha256: text("scenario_sha256"),
            started: text("started"),
            started_unix_us: text("started_unix_us").parse().unwrap_or(0),
            clock_offset_us: text("clock_offset_us").parse().unwrap_or(0),
            scenario_steps: text("scenario_steps"),
            mirror: text("mirror"),
        }
    }
}

/// Name of the MCAP metadata record holding [`Metadata`].
pub const METADATA_NAME: &str = "trinvis";
/// MCAP profile of Trinvis recordings.
pub const PROFILE: &str = "trinvis.v1";

/// Why a recording could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The MCAP library refused.
    #[error("MCAP: {0}")]
    Mcap(#[from] mcap::McapError),
    /// The file system refused.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not a Trinvis recording at all.
    #[error("not an MCAP file (no magic bytes at the start)")]
    NotMcap,
}

/// Appends a session's messages to an MCAP file.
pub struct Writer<W: Write + Seek> {
    mcap: mcap::Writer<W>,
    channels: [u16; 6],
    sequence: u32,
}

impl<W: Write + Seek> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("channels", &self.channels).field("sequence", &self.sequence).finish()
    }
}

impl<W: Write + Seek> Writer<W> {
    /// Starts a recording: header, metadata, schemas and channels.
    pub fn new(w: W, metadata: &Metadata) -> Result<Writer<W>, Error> {
        let options = mcap::WriteOptions::new()
            .profile(PROFILE)
            .library(concat!("trinvis-recording ", env!("CARGO_PKG_VERSION")))
            .compression(Some(mcap::Compression::Zstd))
            // Compress on the writing thread. mcap's default, zstd's own
            // worker threads (as many as there are cores), would give every
            // open recording threads of its own: a console with 32 sessions
            // held 64 compression threads that one writer thread outruns
            // (a second of telemetry is a few kB).
            .compression_threads(0)
            // Chunks close on `flush` (at least once a second) or at this size.
            .chunk_size(Some(4 * 1024 * 1024));
        let mut mcap = options.create(w)?;
        mcap.write_metadata(&mcap::records::Metadata { name: METADATA_NAME.into(), metadata: metadata.to_map() })?;
        let mut channels = [0u16; 6];
        for (slot, channel) in channels.iter_mut().zip(Channel::ALL) {
            let (name, schema) = schemas::for_channel(channel);
            let schema_id = mcap.add_schema(name, "jsonschema", schema.as_bytes())?;
            *slot = mcap.add_channel(schema_id, channel.topic(), "json", &BTreeMap::new())?;
        }
        // The header, metadata and channels reach the disk before any message.
        mcap.flush()?;
        Ok(Writer { mcap, channels, sequence: 0 })
    }

    /// Appends one JSON message with its time (µs since the Unix epoch).
    pub fn write(&mut self, channel: Channel, log_time_us: u64, json: &[u8]) -> Result<(), Error> {
        self.write_at(channel, log_time_us, log_time_us, json)
    }

    /// Appends one message with a separate publish time (when the console
    /// received it, where `log_time_us` is when it happened).
    pub fn write_at(
        &mut self,
        channel: Channel,
        log_time_us: u64,
        publish_time_us: u64,
        json: &[u8],
    ) -> Result<(), Error> {
        self.sequence = self.sequence.wrapping_add(1);
        let header = mcap::records::MessageHeader {
            channel_id: self.channels[channel as usize],
            sequence: self.sequence,
            log_time: log_time_us.saturating_mul(1000),
            publish_time: publish_time_us.saturating_mul(1000),
        };
        self.mcap.write_to_known_channel(&header, json)?;
        Ok(())
    }

    /// Closes the current chunk and flushes it to the file.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.mcap.flush()?;
        Ok(())
    }

    /// Writes the summary and index, and returns the file.
    pub fn finish(mut self) -> Result<W, Error> {
        self.mcap.finish()?;
        Ok(self.mcap.into_inner())
    }
}

impl Writer<std::io::BufWriter<std::fs::File>> {
    /// Creates the file at `path` (failing if it exists) and starts a recording.
    pub fn create(path: &std::path::Path, metadata: &Metadata) -> Result<Self, Error> {
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
        Writer::new(std::io::BufWriter::new(file), metadata)
    }
}

/// One message read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its stream.
    pub channel: Channel,
    /// When it happened, µs since the Unix epoch (console clock).
    pub log_time_us: u64,
    /// When the console received it, µs.
    pub publish_time_us: u64,
    /// The JSON payload.
    pub data: Vec<u8>,
}

/// A recording read into memory, messages in time order.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The session's metadata (default when the file was cut before it).
    pub metadata: Metadata,
    /// Messages ordered by `log_time_us`; ties keep file order.
    pub messages: Vec<Message>,
    /// Whether the file ended properly (summary and end magic). A file cut
    /// short reads up to its last complete chunk and is `false`.
    pub complete: bool,
    /// Why reading stopped early, for a cut file.
    pub cut: Option<String>,
}

impl Recording {
    /// Reads a recording from its bytes. A file cut short yields every
    /// message up to its last complete chunk, with `complete == false`.
    pub fn read(bytes: &[u8]) -> Result<Recording, Error> {
        if !bytes.starts_with(mcap::MAGIC) {
            return Err(Error::NotMcap);
        }
        let complete =
            bytes.len() >= 2 * mcap::MAGIC.len() && bytes.ends_with(mcap::MAGIC) && mcap::read::footer(bytes).is_ok();
        let records = mcap::read::ChunkFlattener::new_with_options(bytes, mcap::read::Options::IgnoreEndMagic.into())?;
        let mut topics: BTreeMap<u16, Channel> = BTreeMap::new();
        let mut metadata = Metadata::default();
        let mut messages = Vec::new();
        let mut cut = None;
        for record in records {
            match record {
                Ok(Record::Channel(c)) => {
                    if let Some(channel) = Channel::from_topic(&c.topic) {
                        topics.insert(c.id, channel);
                    }
                }
                Ok(Record::Metadata(m)) if m.name == METADATA_NAME => metadata = Metadata::from_map(&m.metadata),
                Ok(Record::Message { header, data }) => {
                    if let Some(channel) = topics.get(&header.channel_id) {
                        messages.push(Message {
                            channel: *channel,
                            log_time_us: header.log_time / 1000,
                            publish_time_us: header.publish_time / 1000,
                            data: data.into_owned(),
                        });
                    }
                }
                Ok(Record::DataEnd(_)) => break,
                Ok(_) => {}
                Err(e) => {
                    cut = Some(e.to_string());
                    break;
                }
            }
        }
        // Stable: equal times keep the order they were written in.
        messages.sort_by_key(|m| m.log_time_us);
        Ok(Recording { metadata, messages, complete: complete && cut.is_none(), cut })
    }

    /// The metadata of the file at `path`, read without its messages: the
    /// writer puts the metadata record before the first chunk, so only the
    /// file's start is read (the whole file when that does not hold it).
    /// Default metadata when the file has none.
    pub fn read_metadata(path: &std::path::Path) -> Result<Metadata, Error> {
        use std::io::Read;
        let mut start = Vec::new();
        std::fs::File::open(path)?.take(1 << 20).read_to_end(&mut start)?;
        if let Some(found) = metadata_before_messages(&start)? {
            return Ok(found);
        }
        Ok(metadata_before_messages(&std::fs::read(path)?)?.unwrap_or_default())
    }

    /// Reads the file at `path`.
    pub fn open(path: &std::path::Path) -> Result<Recording, Error> {
        Recording::read(&std::fs::read(path)?)
    }

    /// Messages of one channel, in time order.
    pub fn channel(&self, channel: Channel) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(move |m| m.channel == channel)
    }

    /// Index of the first message at or after `time_us`.
    pub fn seek(&self, time_us: u64) -> usize {
        self.messages.partition_point(|m| m.log_time_us < time_us)
    }

    /// First and last message times, µs.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        Some((self.messages.first()?.log_time_us, self.messages.last()?.log_time_us))
    }

    /// Writes this recording as a complete, indexed MCAP file.
    pub fn write_to<W: Write + Seek>(&self, w: W) -> Result<W, Error> {
        let mut writer = Writer::new(w, &self.metadata)?;
        for (i, m) in self.messages.iter().enumerate() {
            writer.write_at(m.channel, m.log_time_us, m.publish_time_us, &m.data)?;
            if i % 100_000 == 99_999 {
                writer.flush()?;
            }
        }
        writer.finish()
    }
}

/// A complete recording's chunk index: reads the messages of a time range
/// by decompressing only the chunks that overlap it, without reading the
/// rest of the file. This is how a replay seeks.
///
/// ```
/// use recording::{Channel, Index, Metadata, Writer};
/// let mut writer = Writer::new(std::io::Cursor::new(Vec::new()), &Metadata::example()).unwrap();
/// for s in 0..10u64 {
///     writer.write(Channel::Events, s * 1_000_000, br#"{}"#).unwrap();
///     writer.flush().unwrap(); // one chunk a second, as the console writes them
/// }
/// let bytes = writer.finish().unwrap().into_inner();
/// let index = Index::read(&bytes).unwrap().expect("a complete file has an index");
/// let second = index.range(&bytes, 3_000_000, 4_000_000).unwrap();
/// assert_eq!(second.iter().map(|m| m.log_time_us).collect::<Vec<_>>(), [3_000_000]);
/// ```
#[derive(Debug)]
pub struct Index {
    summary: mcap::Summary,
    /// Chunk indexes in order of their first message's time.
    chunks: Vec<mcap::records::ChunkIndex>,
}

impl Index {
    /// Reads the summary section of a complete file; `None` when the file
    /// has none (a cut file: use [`Recording::read`] and [`Recording::seek`]).
    pub fn read(bytes: &[u8]) -> Result<Option<Index>, Error> {
        if !bytes.starts_with(mcap::MAGIC) {
            return Err(Error::NotMcap);
        }
        if !bytes.ends_with(mcap::MAGIC) || mcap::read::footer(bytes).is_err() {
            return Ok(None);
        }
        let Some(summary) = mcap::Summary::read(bytes)? else { return Ok(None) };
        // The writer's first flush closes a chunk with the channels and no
        // messages; its times are 0 and would stretch every range.
        let mut chunks: Vec<_> =
            summary.chunk_indexes.iter().filter(|c| !c.message_index_offsets.is_empty()).cloned().collect();
        chunks.sort_by_key(|c| c.message_start_time);
        Ok(Some(Index { summary, chunks }))
    }

    /// First and last message times of the file, µs (from the chunk index).
    pub fn time_range(&self) -> Option<(u64, u64)> {
        let start = self.chunks.iter().map(|c| c.message_start_time).min()?;
        let end = self.chunks.iter().map(|c| c.message_end_time).max()?;
        Some((start / 1000, end / 1000))
    }

    /// Messages with `from_us <= log_time_us < to_us`, in time order (ties
    /// in file order). Only chunks whose time span overlaps the range are
    /// decompressed.
    pub fn range(&self, bytes: &[u8], from_us: u64, to_us: u64) -> Result<Vec<Message>, Error> {
        let (from, to) = (from_us.saturating_mul(1000), to_us.saturating_mul(1000));
        let mut messages = Vec::new();
        // Chunks are sorted by start time, so the scan stops at the first
        // chunk that begins after the range; chunks may overlap in time (a
        // headset's late samples), so every earlier one is checked.
        for chunk in self.chunks.iter().take_while(|c| c.message_start_time < to) {
            if chunk.message_end_time < from {
                continue;
            }
            for message in self.summary.stream_chunk(bytes, chunk)? {
                let message = message?;
                if message.log_time < from || message.log_time >= to {
                    continue;
                }
                if let Some(channel) = Channel::from_topic(&message.channel.topic) {
                    messages.push((
                        message.sequence,
                        Message {
                            channel,
                            log_time_us: message.log_time / 1000,
                            publish_time_us: message.publish_time / 1000,
                            data: message.data.into_owned(),
                        },
                    ));
                }
            }
        }
        messages.sort_by_key(|(sequence, m)| (m.log_time_us, *sequence));
        Ok(messages.into_iter().map(|(_, m)| m).collect())
    }
}

/// The trinvis metadata record among the records before the first chunk;
/// `Some(default)` when a chunk comes first (the file has none), `None`
/// when `bytes` end before either.
fn metadata_before_messages(bytes: &[u8]) -> Result<Option<Metadata>, Error> {
    if !bytes.starts_with(mcap::MAGIC) {
        return Err(Error::NotMcap);
    }
    let records = mcap::read::LinearReader::new_with_options(bytes, mcap::read::Options::IgnoreEndMagic.into())?;
    for record in records {
        match record {
            Ok(Record::Metadata(m)) if m.name == METADATA_NAME => return Ok(Some(Metadata::from_map(&m.metadata))),
            Ok(Record::Chunk { .. } | Record::Message { .. } | Record::DataEnd(_)) => {
                return Ok(Some(Metadata::default()));
            }
            Ok(_) => {}
            Err(_) => return Ok(None),
        }
    }
    Ok(None)
}

/// Reads `input` (complete or cut short) and writes a clean copy to
/// `output`. Returns the recording that was saved.
pub fn recover(input: &std::path::Path, output: &std::path::Path) -> Result<Recording, Error> {
    let recording = Recording::open(input)?;
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(output)?;
    let mut w = recording.write_to(std::io::BufWriter::new(file))?;
    w.flush()?;
    Ok(recording)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn sample_file(seconds: u64) -> Vec<u8> {
        sample_file_from(0, seconds)
    }

    /// `seconds` of 90 Hz telemetry and an event a second, from `start` µs.
    fn sample_file_from(start: u64, seconds: u64) -> Vec<u8> {
        let mut writer = Writer::new(Cursor::new(Vec::new()), &Metadata::example()).unwrap();
        for s in 0..seconds {
            for frame in 0..90u64 {
                let t = start + 1_000_000 * s + frame * 11_111;
                writer.write(Channel::Telemetry, t, format!(r#"{{"t_us":{t}}}"#).as_bytes()).unwrap();
            }
            let t = start + 1_000_000 * s + 500_000;
            writer.write(Channel::Events, t, format!(r#"{{"seq":{s}}}"#).as_bytes()).unwrap();
            writer.flush().unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn metadata_is_read_from_the_start_of_a_whole_or_cut_file() {
        let dir = std::env::temp_dir().join(format!("trinvis-recording-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = sample_file(3);
        for (name, part) in [("whole.mcap", &bytes[..]), ("cut.mcap", &bytes[..bytes.len() / 2])] {
            std::fs::write(dir.join(name), part).unwrap();
            assert_eq!(Recording::read_metadata(&dir.join(name)).unwrap(), Metadata::example(), "{name}");
        }
        std::fs::write(dir.join("not.mcap"), b"hello").unwrap();
        assert!(matches!(Recording::read_metadata(&dir.join("not.mcap")), Err(Error::NotMcap)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn round_trip_in_time_order_with_metadata_and_seek() {
        let bytes = sample_file(3);
        let r = Recording::read(&bytes).unwrap();
        assert!(r.complete && r.cut.is_none());
        assert_eq!(r.metadata, Metadata::example());
        assert_eq!(r.messages.len(), 3 * 91);
        assert!(r.messages.windows(2).all(|w| w[0].log_time_us <= w[1].log_time_us));
        assert_eq!(r.channel(Channel::Events).count(), 3);
        let i = r.seek(1_500_000);
        assert_eq!(r.messages[i].channel, Channel::Events);
        assert_eq!(r.messages[i].log_time_us, 1_500_000);
        assert_eq!(r.seek(0), 0);
        assert_eq!(r.seek(u64::MAX), r.messages.len());
    }

    #[test]
    fn the_index_reads_a_time_range_like_the_whole_file_does() {
        // Times as a console writes them, far from 0.
        let start = 1_795_688_100_000_000;
        let bytes = sample_file_from(start, 6);
        let whole = Recording::read(&bytes).unwrap();
        let index = Index::read(&bytes).unwrap().unwrap();
        assert_eq!(index.time_range(), whole.time_range());
        assert_eq!(index.time_range().unwrap().0, start);
        for (from, to) in
            [(0, 1), (0, 6_000_000), (1_500_000, 3_250_000), (2_000_000, 2_000_001), (5_999_999, u64::MAX)]
        {
            let (from, to) = (start + from, to.saturating_add(start));
            let expected: Vec<_> =
                whole.messages.iter().filter(|m| m.log_time_us >= from && m.log_time_us < to).cloned().collect();
            assert_eq!(index.range(&bytes, from, to).unwrap(), expected, "{from}..{to}");
        }
        assert!(index.range(&bytes, start + 7_000_000, start + 8_000_000).unwrap().is_empty());
        assert!(index.range(&bytes, 0, start).unwrap().is_empty());
        // A cut file has no index; the caller falls back to reading it whole.
        assert!(Index::read(&bytes[..bytes.len() - 100]).unwrap().is_none());
    }

    #[test]
    fn a_cut_file_reads_up_to_its_last_complete_chunk() {
        let bytes = sample_file(5);
        let whole = Recording::read(&bytes).unwrap();
        // Cut at many places: every read keeps a prefix of whole seconds.
        for cut in (100..bytes.len() - 1).step_by(97) {
            let r = Recording::read(&bytes[..cut]).unwrap();
            assert!(!r.complete, "cut at {cut} of {}", bytes.len());
            let n = r.messages.len();
            assert_eq!(&r.messages[..], &whole.messages[..n], "a prefix, at {cut}");
            assert_eq!(n % 91, 0, "whole chunks only, at {cut}: {n}");
        }
        // A file cut before its first chunk still has its metadata.
        let r = Recording::read(&bytes[..bytes.len() / 10]).unwrap();
        assert_eq!(r.metadata.patient_code, "P-0042");
    }

    #[test]
    fn recovery_writes_a_complete_copy() {
        let bytes = sample_file(4);
        let dir = std::env::temp_dir().join(format!("trinvis-recording-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cut, fixed) = (dir.join("cut.mcap"), dir.join("fixed.mcap"));
        let _ = std::fs::remove_file(&fixed);
        std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
        let saved = recover(&cut, &fixed).unwrap();
        let again = Recording::open(&fixed).unwrap();
        assert!(again.complete);
        assert_eq!(again.messages, saved.messages);
        assert!(saved.messages.len() >= 2 * 91);
        assert!(matches!(recover(&cut, &fixed), Err(Error::Io(_))), "never overwrites");
        assert!(matches!(Recording::read(b"hello"), Err(Error::NotMcap)));
    }
}
