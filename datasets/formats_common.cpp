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
