#pragma once
// Checkpoint files: a payload written atomically (temporary file, fsync, rename, fsync of the
// folder) behind a header with its size and checksum, so a crash leaves the previous checkpoint or
// the new one, never half of one, and a damaged file is refused instead of loaded.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace nascent {

// FNV-1a, 64 bits: enough to tell a damaged or truncated file from a good one. The second form
// continues a running checksum over several pieces (start from kChecksumStart).
inline constexpr std::uint64_t kChecksumStart = 14695981039346656037ULL;
std::uint64_t checksum64(const std::string& bytes);
std::uint64_t checksum64(const void* bytes, std::size_t size, std::uint64_t running);

// Writes `payload` to `path` atomically. Throws Error naming the file when it cannot.
void write_checkpoint_file(const std::string& path, const std::string& payload);

// The payload of `path`, or nothing when the file does not exist. A file that is not a nascent
// checkpoint, is truncated or fails its checksum is a one-line Error naming it.
std::optional<std::string> read_checkpoint_file(const std::string& path);

}  // namespace nascent
