#include "search_spaces/ofa/ofa.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.hpp"
#include "core/network.hpp"
#include "supernets/ofa_mbv3.hpp"

namespace nascent {

namespace {

constexpr std::int64_t kBaseWidths[] = {16, 16, 24, 40, 80, 112, 160, 960, 1280};
constexpr int kStrides[] = {2, 2, 2, 1, 2};      // of the five elastic stages
constexpr bool kSe[] = {false, true, false, true, true};
constexpr bool kHswish[] = {false, false, true, true, true};

bool contains(const std::vector<int>& values, int v) { return std::find(values.begin(), values.end(), v) != values.end(); }

std::string list_text(const std::vector<int>& values) {
  std::string s;
  for (auto v : values) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return "{" + s + "}";
}

void check_arch(const OfaArch& arch, const OfaSpec& spec, const std::string& text) {
  if (std::find(spec.resolutions.begin(), spec.resolutions.end(), arch.r) == spec.resolutions.end()) {
    std::string rs;
    for (auto r : spec.resolutions) rs += (rs.empty() ? "" : ", ") + std::to_string(r);
    throw ParseError(text, 0, "resolution " + std::to_string(arch.r) + " is not one of {" + rs + "}");
  }
  for (std::size_t s = 0; s < arch.d.size(); ++s)
    if (!contains(spec.depths, arch.d[s]))
      throw ParseError(text, 0, "stage " + std::to_string(s + 1) + " depth " + std::to_string(arch.d[s]) + " is not one of " + list_text(spec.depths));
  for (int b = 0; b < OfaSpec::kBlocks; ++b) {
    if (!arch.active(b)) continue;
    const std::string where = "stage " + std::to_string(b / 4 + 1) + " block " + std::to_string(b % 4 + 1);
    if (!contains(spec.kernels, arch.ks[static_cast<std::size_t>(b)]))
      throw ParseError(text, 0, where + " kernel " + std::to_string(arch.ks[static_cast<std::size_t>(b)]) + " is not one of " + list_text(spec.kernels));
    if (!contains(spec.expands, arch.e[static_cast<std::size_t>(b)]))
      throw ParseError(text, 0, where + " expand ratio " + std::to_string(arch.e[static_cast<std::size_t>(b)]) + " is not one of " + list_text(spec.expands));
  }
}

OfaArch parse_dict(const std::string& text) {
  std::string json = text;
  std::replace(json.begin(), json.end(), '\'', '"');
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const std::exception& error) {
    throw ParseError(text, 0, std::string("not a valid config dict: ") + error.what());
  }
  const auto ints = [&](const char* key, std::size_t size) {
    if (!doc.contains(key) || !doc[key].is_array()) throw ParseError(text, 0, std::string("the config dict lacks the list '") + key + "'");
    std::vector<int> values;
    for (const auto& v : doc[key]) {
      if (!v.is_number_integer()) throw ParseError(text, 0, std::string("'") + key + "' must hold integers");
      values.push_back(v.get<int>());
    }
    if (values.size() != size)
      throw ParseError(text, 0, std::string("'") + key + "' needs " + std::to_string(size) + " entries, got " + std::to_string(values.size()));
    return values;
  };
  OfaArch arch;
  arch.ks = ints("ks", OfaSpec::kBlocks);
  arch.e = ints("e", OfaSpec::kBlocks);
  arch.d = ints("d", OfaSpec::kStages);
  const char* key = doc.contains("r") ? "r" : "image_size";
  if (!doc.contains(key)) throw ParseError(text, 0, "the config dict lacks the resolution 'r' or 'image_size'");
  const auto& r = doc[key];
  if (r.is_array() && r.size() == 1 && r[0].is_number_integer()) {
    arch.r = r[0].get<std::int64_t>();
  } else if (r.is_number_integer()) {
    arch.r = r.get<std::int64_t>();
  } else {
    throw ParseError(text, 0, std::string("'") + key + "' must be an integer or a one-element list");
  }
  return arch;
}

}  // namespace

OfaArch ofa_normalised(OfaArch arch) {
  for (int b = 0; b < OfaSpec::kBlocks; ++b)
    if (!arch.active(b)) arch.ks[static_cast<std::size_t>(b)] = 0, arch.e[static_cast<std::size_t>(b)] = 0;
  return arch;
}

OfaArch ofa_filled(OfaArch arch, const OfaSpec& spec, Rng& rng) {
  for (std::size_t b = 0; b < arch.ks.size(); ++b) {
    if (arch.ks[b] == 0) arch.ks[b] = spec.kernels[uniform_index(rng, spec.kernels.size())];
    if (arch.e[b] == 0) arch.e[b] = spec.expands[uniform_index(rng, spec.expands.size())];
  }
  return arch;
}

std::int64_t ofa_make_divisible(double value, std::int64_t divisor) {
  std::int64_t v = std::max<std::int64_t>(divisor, static_cast<std::int64_t>(value + static_cast<double>(divisor) / 2) / divisor * divisor);
  if (static_cast<double>(v) < 0.9 * value) v += divisor;
  return v;
}

std::int64_t ofa_mid_channels(std::int64_t in, int e) {
  return ofa_make_divisible(std::round(static_cast<double>(in) * e));
}

std::vector<std::int64_t> OfaSpec::widths() const {
  std::vector<std::int64_t> w;
  for (auto base : kBaseWidths) w.push_back(ofa_make_divisible(static_cast<double>(base) * width_mult));
  return w;
}

OfaArch parse_ofa_arch(const std::string& text, const OfaSpec& spec) {
  std::size_t first = text.find_first_not_of(" \t\n");
  if (first == std::string::npos) throw ParseError(text, 0, "empty architecture");
  OfaArch arch;
  if (text[first] == '{') {
    arch = parse_dict(text);
  } else {
    std::vector<std::string> fields;
    std::stringstream stream(text);
    std::string field;
    while (std::getline(stream, field, '/')) fields.push_back(field);
    if (fields.size() != 1 + OfaSpec::kStages)
      throw ParseError(text, 0, "expected r<resolution> and 5 stages separated by '/', e.g. r32/k3e4,k5e6/...; got " +
                                    std::to_string(fields.size()) + " fields");
    if (fields[0].size() < 2 || fields[0][0] != 'r' || fields[0].find_first_not_of("0123456789", 1) != std::string::npos)
      throw ParseError(text, 0, "expected r<resolution>, e.g. r224");
    // Digits only were checked; more than 9 of them would overflow and no resolution has them.
    const auto number = [&text](const std::string& digits, std::size_t at, const char* what) {
      if (digits.size() > 9) throw ParseError(text, at, std::string(what) + " " + digits + " is too large");
      return std::stoi(digits);
    };
    arch.r = number(fields[0].substr(1), 1, "resolution");
    arch.ks.assign(OfaSpec::kBlocks, 0);
    arch.e.assign(OfaSpec::kBlocks, 0);
    std::size_t pos = fields[0].size() + 1;
    for (int s = 0; s < OfaSpec::kStages; ++s) {
      std::vector<std::string> blocks;
      std::stringstream blocks_stream(fields[static_cast<std::size_t>(s + 1)]);
      std::string block;
      while (std::getline(blocks_stream, block, ',')) blocks.push_back(block);
      if (blocks.empty() || blocks.size() > OfaSpec::kMaxDepth)
        throw ParseError(text, pos, "stage " + std::to_string(s + 1) + " needs 1 to 4 blocks");
      for (std::size_t j = 0; j < blocks.size(); ++j) {
        const std::string& b = blocks[j];
        const std::size_t e_at = b.find('e');
        if (b.size() < 4 || b[0] != 'k' || e_at == std::string::npos || e_at < 2 ||
            b.find_first_not_of("0123456789", 1) != e_at || b.find_first_not_of("0123456789", e_at + 1) != std::string::npos ||
            e_at + 1 == b.size())
          throw ParseError(text, pos, "expected a block as k<kernel>e<expand>, e.g. k5e4; got '" + b + "'");
        const std::size_t index = static_cast<std::size_t>(s * OfaSpec::kMaxDepth) + j;
        arch.ks[index] = number(b.substr(1, e_at - 1), pos + 1, "kernel");
        arch.e[index] = number(b.substr(e_at + 1), pos + e_at + 1, "expand ratio");
        pos += b.size() + 1;
      }
      arch.d.push_back(static_cast<int>(blocks.size()));
    }
  }
  check_arch(arch, spec, text);
  return ofa_normalised(arch);
}

std::string print_ofa_arch(const OfaArch& arch) {
  std::string text = "r" + std::to_string(arch.r);
  for (int s = 0; s < OfaSpec::kStages; ++s) {
    text += "/";
    for (int j = 0; j < arch.d[static_cast<std::size_t>(s)]; ++j) {
      const std::size_t b = static_cast<std::size_t>(s * OfaSpec::kMaxDepth + j);
      text += (j ? ",k" : "k") + std::to_string(arch.ks[b]) + "e" + std::to_string(arch.e[b]);
    }
  }
  return text;
}

double ofa_flops(const OfaSpec& spec, const OfaArch& arch, std::int64_t in_channels, std::int64_t classes) {
  const auto w = spec.widths();
  const auto conv = [](double out, double cin, double cout, double k, double groups) { return cin * cout * k * k * out * out / groups; };
  double size = static_cast<double>((arch.r + 1) / 2);
  double flops = conv(size, static_cast<double>(in_channels), static_cast<double>(w[0]), 3, 1);
  // block0: depthwise 3x3 and the point-linear projection (expand ratio 1, no expansion conv).
  flops += conv(size, static_cast<double>(w[0]), static_cast<double>(w[0]), 3, static_cast<double>(w[0]));
  flops += conv(size, static_cast<double>(w[0]), static_cast<double>(w[1]), 1, 1);
  for (int s = 0; s < OfaSpec::kStages; ++s) {
    for (int j = 0; j < arch.d[static_cast<std::size_t>(s)]; ++j) {
      const std::size_t b = static_cast<std::size_t>(s * OfaSpec::kMaxDepth + j);
      const double in = static_cast<double>(j == 0 ? w[static_cast<std::size_t>(s + 1)] : w[static_cast<std::size_t>(s + 2)]);
      const double out_c = static_cast<double>(w[static_cast<std::size_t>(s + 2)]);
      const int stride = j == 0 ? kStrides[s] : 1;
      const double mid = static_cast<double>(ofa_mid_channels(static_cast<std::int64_t>(in), arch.e[b]));
      const double out_size = std::floor((size - 1) / stride + 1);
      flops += conv(size, in, mid, 1, 1);
      flops += conv(out_size, mid, mid, arch.ks[b], mid);
      if (kSe[s]) {
        const double se_mid = static_cast<double>(ofa_make_divisible(static_cast<double>(static_cast<std::int64_t>(mid) / 4)));
        flops += conv(1, mid, se_mid, 1, 1) + conv(1, se_mid, mid, 1, 1);
      }
      flops += conv(out_size, mid, out_c, 1, 1);
      size = out_size;
    }
  }
  flops += conv(size, static_cast<double>(w[6]), static_cast<double>(w[7]), 1, 1);
  flops += conv(1, static_cast<double>(w[7]), static_cast<double>(w[8]), 1, 1);
  flops += static_cast<double>(w[8]) * static_cast<double>(classes);
  return flops;
}

int ofa_stage_stride(int stage) { return kStrides[stage]; }
bool ofa_stage_se(int stage) { return kSe[stage]; }
bool ofa_stage_hswish(int stage) { return kHswish[stage]; }

double ofa_params(const OfaSpec& spec, const OfaArch& arch, std::int64_t in_channels, std::int64_t classes) {
  const auto w = spec.widths();
  const auto d = [](std::int64_t v) { return static_cast<double>(v); };
  double params = d(in_channels * w[0] * 9 + 2 * w[0]) + d(w[0] * 9 + 2 * w[0] + w[0] * w[1] + 2 * w[1]);
  for (int s = 0; s < OfaSpec::kStages; ++s) {
    for (int j = 0; j < arch.d[static_cast<std::size_t>(s)]; ++j) {
      const std::size_t b = static_cast<std::size_t>(s * OfaSpec::kMaxDepth + j);
      const std::int64_t in = j == 0 ? w[static_cast<std::size_t>(s + 1)] : w[static_cast<std::size_t>(s + 2)];
      const std::int64_t out = w[static_cast<std::size_t>(s + 2)];
      const std::int64_t mid = ofa_mid_channels(in, arch.e[b]);
      params += d(in * mid + 2 * mid + mid * arch.ks[b] * arch.ks[b] + 2 * mid + mid * out + 2 * out);
      if (kSe[s]) {
        const std::int64_t se_mid = ofa_make_divisible(static_cast<double>(mid / 4));
        params += d(mid * se_mid + se_mid + se_mid * mid + mid);
      }
    }
  }
  return params + d(w[6] * w[7] + 2 * w[7] + w[7] * w[8] + w[8] * classes + classes);
}

OfaSpec OfaSpace::read_spec(const Options& options) {
  OfaSpec spec;
  spec.width_mult = options.get<double>("width_mult");
  if (!(spec.width_mult > 0) || spec.width_mult > 4) throw Error("config: space.width_mult must be in (0, 4]");
  spec.resolutions.clear();
  for (int r : options.get<std::vector<int>>("resolutions")) spec.resolutions.push_back(r);
  std::sort(spec.resolutions.begin(), spec.resolutions.end());
  if (spec.resolutions.empty() || spec.resolutions.front() < 8)
    throw Error("config: space.resolutions must list sizes of at least 8 pixels");
  const auto subset = [&](const char* key, std::vector<int>& values, const std::vector<int>& allowed) {
    values = options.get<std::vector<int>>(key);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    if (values.empty()) throw Error("config: space." + std::string(key) + " must not be empty");
    for (int v : values)
      if (!contains(allowed, v)) throw Error("config: space." + std::string(key) + ": " + std::to_string(v) + " is not one of " + list_text(allowed));
  };
  subset("kernels", spec.kernels, {3, 5, 7});
  subset("expands", spec.expands, {3, 4, 6});
  subset("depths", spec.depths, {1, 2, 3, 4});
  return spec;
}

std::unique_ptr<SearchSpace> OfaSpace::from_options(const Options& options) { return std::make_unique<OfaSpace>(read_spec(options)); }

OfaArch OfaSpec::sample(Rng& rng) const {
  OfaArch arch;
  for (int b = 0; b < OfaSpec::kBlocks; ++b) {
    arch.ks.push_back(kernels[uniform_index(rng, kernels.size())]);
    arch.e.push_back(expands[uniform_index(rng, expands.size())]);
  }
  for (int s = 0; s < OfaSpec::kStages; ++s) arch.d.push_back(depths[uniform_index(rng, depths.size())]);
  arch.r = resolutions[uniform_index(rng, resolutions.size())];
  return ofa_normalised(arch);
}

OfaArch OfaSpec::largest() const {
  OfaArch arch{std::vector<int>(OfaSpec::kBlocks, kernels.back()), std::vector<int>(OfaSpec::kBlocks, expands.back()),
               std::vector<int>(OfaSpec::kStages, depths.back()), resolutions.back()};
  return ofa_normalised(arch);
}

OfaArch OfaSpec::smallest() const {
  OfaArch arch{std::vector<int>(OfaSpec::kBlocks, kernels.front()), std::vector<int>(OfaSpec::kBlocks, expands.front()),
               std::vector<int>(OfaSpec::kStages, depths.front()), resolutions.front()};
  return ofa_normalised(arch);
}

std::string OfaSpace::sample(Rng& rng) const { return print_ofa_arch(spec_.sample(rng)); }

std::string OfaSpace::mutate(const std::string& text, Rng& rng) const {
  const OfaArch original = parse(text);
  for (int attempt = 0; attempt < 100; ++attempt) {
    OfaArch arch = ofa_filled(original, spec_, rng);
    const std::size_t what = uniform_index(rng, 4);
    if (what == 0) {
      arch.d[uniform_index(rng, arch.d.size())] = spec_.depths[uniform_index(rng, spec_.depths.size())];
    } else if (what == 1) {
      arch.r = spec_.resolutions[uniform_index(rng, spec_.resolutions.size())];
    } else {
      const std::size_t b = uniform_index(rng, OfaSpec::kBlocks);
      arch.ks[b] = spec_.kernels[uniform_index(rng, spec_.kernels.size())];
      arch.e[b] = spec_.expands[uniform_index(rng, spec_.expands.size())];
    }
    arch = ofa_normalised(arch);
    if (!(arch == original)) return print_ofa_arch(arch);
  }
  return print_ofa_arch(original);
}

std::string OfaSpace::canonical(const std::string& text) const { return print_ofa_arch(parse(text)); }

std::vector<double> OfaSpace::encode(const std::string& text) const {
  const OfaArch arch = parse(text);
  std::vector<double> features(spec_.resolutions.size() + 2 * OfaSpec::kBlocks * 3, 0.0);
  const auto r_at = std::find(spec_.resolutions.begin(), spec_.resolutions.end(), arch.r) - spec_.resolutions.begin();
  features[static_cast<std::size_t>(r_at)] = 1;
  const std::size_t k_base = spec_.resolutions.size(), e_base = k_base + OfaSpec::kBlocks * 3;
  const auto slot = [](int value, const int (&map)[3]) { return static_cast<std::size_t>(std::find(map, map + 3, value) - map); };
  constexpr int kKernelSlots[3] = {3, 5, 7};
  constexpr int kExpandSlots[3] = {3, 4, 6};
  for (int b = 0; b < OfaSpec::kBlocks; ++b) {
    if (!arch.active(b)) continue;
    features[k_base + static_cast<std::size_t>(3 * b) + slot(arch.ks[static_cast<std::size_t>(b)], kKernelSlots)] = 1;
    features[e_base + static_cast<std::size_t>(3 * b) + slot(arch.e[static_cast<std::size_t>(b)], kExpandSlots)] = 1;
  }
  return features;
}

std::string OfaSpace::drawing(const std::string& text) const {
  // One record per stage, its active blocks side by side: seven rows from stem to head.
  const OfaArch arch = parse(text);
  std::ostringstream out;
  out << "digraph ofa {\nstem [label=\"stem " << arch.r << "x" << arch.r << "\"];\n";
  for (int s = 0; s < OfaSpec::kStages; ++s) {
    out << "s" << s << " [shape=Mrecord, label=\"{stage " << s + 1 << " \\| stride " << ofa_stage_stride(s) << (ofa_stage_se(s) ? " \\| SE" : "")
        << "|{";
    for (int i = 0; i < arch.d[static_cast<std::size_t>(s)]; ++i) {
      const auto b = static_cast<std::size_t>(s * OfaSpec::kMaxDepth + i);
      out << (i ? "|" : "") << "k" << arch.ks[b] << " e" << arch.e[b];
    }
    out << "}}\"];\n" << (s ? "s" + std::to_string(s - 1) : std::string("stem")) << " -> s" << s << ";\n";
  }
  out << "head [label=\"head\"];\ns" << OfaSpec::kStages - 1 << " -> head;\n}\n";
  return out.str();
}

ArchGraph OfaSpace::graph(const std::string& text) const {
  const OfaArch arch = parse(text);
  ArchGraph g;
  GraphVertex x = add_op(g, "stem_r" + std::to_string(arch.r));
  for (int b = 0; b < OfaSpec::kBlocks; ++b) {
    if (!arch.active(b)) continue;
    GraphVertex v = add_op(g, "mbconv_s" + std::to_string(b / 4 + 1) + "_k" + std::to_string(arch.ks[static_cast<std::size_t>(b)]) + "_e" +
                                  std::to_string(arch.e[static_cast<std::size_t>(b)]));
    add_data_edge(g, x, v);
    if (b % 4 == 0) {
      x = v;
      continue;
    }
    GraphVertex sum = add_op(g, "add", true);
    add_data_edge(g, x, sum);
    add_data_edge(g, v, sum);
    x = sum;
  }
  GraphVertex head = add_op(g, "head");
  add_data_edge(g, x, head);
  return g;
}

Description OfaSpace::describe(const std::string& text, const Task& task) const {
  const OfaArch arch = parse(text);
  Description d;
  const std::int64_t in = task.input_shape.empty() ? 3 : task.input_shape[0];
  d.flops = ofa_flops(spec_, arch, in, task.num_classes);
  d.params = ofa_params(spec_, arch, in, task.num_classes);
  d.graph = graph(text);
  d.extra["resolution"] = static_cast<double>(arch.r);
  double depth = 0;
  for (int v : arch.d) depth += v;
  d.extra["blocks"] = depth;
  return d;
}

std::shared_ptr<Network> OfaSpace::build(const std::string& text, const Task& task) const {
  return std::make_shared<OfaMbv3>(OfaNetShape::subnet(spec_, parse(text)), task);
}

}  // namespace nascent
