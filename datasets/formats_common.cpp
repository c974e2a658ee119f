#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "datasets/formats.hpp"

namespace nascent {

FixedSplit fixed_split(std::int64_t n, std::int64_t val_count) {
  Rng rng(0);
  const std::vector<std::int64_t> order = shuffled_indices(n, rng);
  FixedSplit split;
  split.val.assign(order.begin(), order.begin() + val_count);
  split.train.assign(order.begin() + val_count, order.end());
  return split;
}

void check_decoded_size(std::int64_t count, std::int64_t channels, std::int64_t side, const std::string& prefix, const std::string& option) {
  const long double bytes = static_cast<long double>(count) * channels * side * side * sizeof(float);
  const long double memory = static_cast<long double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  if (memory > 0 && bytes > memory) {
    char text[160];
    std::snprintf(text, sizeof text, "%lld images of %lld x %lld x %lld need %.1f GB as float32, more than this machine's %.1f GB",
                  static_cast<long long>(count), static_cast<long long>(channels), static_cast<long long>(side), static_cast<long long>(side),
                  static_cast<double>(bytes / 1e9), static_cast<double>(memory / 1e9));
    throw Error(prefix + text + ": lower " + option);
  }
}

torch::Tensor subset_index(const std::vector<std::int64_t>& order, std::int64_t subset) {
  const auto n = static_cast<std::int64_t>(order.size());
  const std::int64_t kept = subset > 0 && subset < n ? subset : n;
  return torch::tensor(std::vector<std::int64_t>(order.begin(), order.begin() + kept), torch::kInt64);
}

void check_regular_file(const std::string& path, const std::string& prefix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(prefix + path + ": cannot open (no such file)");
  if (!fs::is_regular_file(path, ec)) throw Error(prefix + path + ": not a regular file");
}

std::string read_file_bytes(const std::string& path, const std::string& prefix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  check_regular_file(path, prefix);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(prefix + path + ": cannot open (permission denied?)");
  std::string bytes;
  const auto size = fs::file_size(path, ec);
  if (ec) throw Error(prefix + path + ": cannot read its size (" + ec.message() + ")");
  bytes.resize(size);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) throw Error(prefix + path + ": read error");
  return bytes;
}

}  // namespace nascent
