#include "core/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace nascent {

namespace {

constexpr const char* kMagic = "nascent-checkpoint 1";

void write_all(int fd, const std::string& bytes, const std::string& path) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) throw Error("checkpoint: cannot write '" + path + "'");
    written += static_cast<std::size_t>(n);
  }
}

void sync_folder(const std::filesystem::path& folder) {
  const int fd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::uint64_t checksum64(const void* bytes, std::size_t size, std::uint64_t running) {
  const auto* byte = static_cast<const unsigned char*>(bytes);
  for (std::size_t i = 0; i < size; ++i) {
    running ^= byte[i];
    running *= 1099511628211ULL;
  }
  return running;
}

std::uint64_t checksum64(const std::string& bytes) { return checksum64(bytes.data(), bytes.size(), kChecksumStart); }

void write_checkpoint_file(const std::string& path, const std::string& payload) {
  const std::filesystem::path target(path);
  if (!target.parent_path().empty()) std::filesystem::create_directories(target.parent_path());
  char header[128];
  std::snprintf(header, sizeof header, "%s %zu %016llx\n", kMagic, payload.size(), static_cast<unsigned long long>(checksum64(payload)));
  const std::string temporary = path + ".partial";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error("checkpoint: cannot create '" + temporary + "'");
  try {
    write_all(fd, header, temporary);
    write_all(fd, payload, temporary);
    if (::fsync(fd) != 0) throw Error("checkpoint: cannot sync '" + temporary + "'");
  } catch (...) {
    ::close(fd);
    std::filesystem::remove(temporary);
    throw;
  }
  ::close(fd);
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) throw Error("checkpoint: cannot rename '" + temporary + "' to '" + path + "': " + error.message());
  sync_folder(target.parent_path());
}

std::optional<std::string> read_checkpoint_file(const std::string& path) {
  std::error_code looked;
  const bool present = std::filesystem::exists(path, looked);
  if (looked) throw Error("checkpoint '" + path + "': " + looked.message());
  if (!present) return std::nullopt;
  if (std::filesystem::is_directory(path, looked)) throw Error("checkpoint '" + path + "' is a folder, not a checkpoint file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("checkpoint '" + path + "': cannot read");
  std::string header;
  std::getline(in, header);
  std::istringstream fields(header);
  std::string word1, word2, checksum_text;
  std::size_t size = 0;
  fields >> word1 >> word2 >> size >> checksum_text;
  if (word1 + " " + word2 != kMagic || checksum_text.size() != 16)
    throw Error("checkpoint '" + path + "' is not a nascent checkpoint (move it away or start a new run)");
  std::string payload((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (payload.size() != size)
    throw Error("checkpoint '" + path + "' is truncated (" + std::to_string(payload.size()) + " of " + std::to_string(size) + " bytes)");
  char expected[32];
  std::snprintf(expected, sizeof expected, "%016llx", static_cast<unsigned long long>(checksum64(payload)));
  if (checksum_text != expected) throw Error("checkpoint '" + path + "' is damaged (checksum mismatch)");
  return payload;
}

}  // namespace nascent
