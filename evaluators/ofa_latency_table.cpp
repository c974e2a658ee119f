#include "evaluators/ofa_latency_table.hpp"

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "core/network.hpp"
#include "supernets/ofa_mbv3.hpp"

namespace nascent {

namespace {

std::string shape_text(std::int64_t h, std::int64_t c) { return std::to_string(h) + "x" + std::to_string(h) + "x" + std::to_string(c); }

std::string block_key(std::int64_t in_size, std::int64_t in, std::int64_t out_size, std::int64_t out, std::int64_t mid, int k, std::int64_t stride,
                      bool identity, bool se, bool hswish) {
  return "expanded_conv-input:" + shape_text(in_size, in) + "-output:" + shape_text(out_size, out) + "-expand:" + std::to_string(mid) +
         "-kernel:" + std::to_string(k) + "-stride:" + std::to_string(stride) + "-idskip:" + (identity ? "1" : "0") +
         "-se:" + (se ? "1" : "0") + "-hs:" + (hswish ? "1" : "0");
}

std::string stem_key(std::int64_t r, std::int64_t in, std::int64_t out) {
  return "Conv+first_block-input:" + shape_text(r, in) + "-output:" + shape_text((r + 1) / 2, out);
}

std::string head_key(std::int64_t size, std::int64_t in, std::int64_t classes) {
  return "Conv_1+AvgPool2D+Conv_2+Logits-input:" + shape_text(size, in) + "-output:" + std::to_string(classes);
}

LatencyStat time_it(const std::function<void()>& run, const torch::Device& device, int repeats) {
  const auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < 3; ++i) run();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    sync();
    const auto start = std::chrono::steady_clock::now();
    run();
    sync();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  LatencyStat stat;
  stat.count = repeats;
  for (double t : times) stat.mean += t / repeats;
  for (double t : times) stat.std += (t - stat.mean) * (t - stat.mean) / repeats;
  stat.std = std::sqrt(stat.std);
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
  stat.median = times[times.size() / 2];
  return stat;
}

}  // namespace

std::string ofa_latency_space_key(const OfaSpec& spec, std::int64_t in_channels, std::int64_t classes) {
  std::ostringstream key;
  key << "width_mult " << spec.width_mult << "; resolutions";
  for (auto r : spec.resolutions) key << " " << r;
  key << "; kernels";
  for (auto k : spec.kernels) key << " " << k;
  key << "; expands";
  for (auto e : spec.expands) key << " " << e;
  key << "; channels " << in_channels << "; classes " << classes;
  return key.str();
}

OfaLatencyTable OfaLatencyTable::measure(const OfaSpec& spec, std::int64_t in_channels, std::int64_t classes, const std::string& device_name,
                                         int repeats, const std::function<void(std::size_t, std::size_t)>& progress) {
  if (repeats < 1) throw Error("latency table: repeats must be at least 1");
  torch::NoGradGuard no_grad;
  const torch::Device device(device_name);
  OfaLatencyTable table;
  table.device = device_name;
  table.space = ofa_latency_space_key(spec, in_channels, classes);
  table.in_channels = in_channels;
  table.classes = classes;
  const std::size_t total = spec.resolutions.size() * (2 + spec.kernels.size() * spec.expands.size() * OfaSpec::kStages * 2);
  std::size_t done = 0;
  const auto step = [&] {
    ++done;
    if (progress) progress(done, total);
  };
  for (const std::int64_t r : spec.resolutions) {
    bool fixed_parts_timed = false;
    for (int k : spec.kernels) {
      for (int e : spec.expands) {
        OfaArch arch{std::vector<int>(OfaSpec::kBlocks, k), std::vector<int>(OfaSpec::kBlocks, e),
                     std::vector<int>(OfaSpec::kStages, OfaSpec::kMaxDepth), r};
        auto net = std::make_shared<OfaMbv3>(OfaNetShape::subnet(spec, arch), Task{{in_channels, r, r}, classes});
        net->to(device);
        net->eval();
        torch::Tensor x = torch::zeros({1, in_channels, r, r}, torch::TensorOptions().device(device));
        if (!fixed_parts_timed) {
          table.entries[stem_key(r, in_channels, net->shape().first_block)] = time_it([&] { net->run_stem(x); }, device, repeats);
          step();
        }
        x = net->run_stem(x);
        for (std::size_t s = 0; s < net->blocks.size(); ++s) {
          for (std::size_t j = 0; j < net->blocks[s].size(); ++j) {
            OfaBlock& block = *net->blocks[s][j];
            const torch::Tensor out = net->run_block(block, x, j == 0);
            if (j <= 1) {
              const std::string key = block_key(x.size(2), x.size(1), out.size(2), out.size(1), block.active_mid, k, block.shape.stride, j > 0,
                                                block.shape.se, block.shape.hswish);
              table.entries[key] = time_it([&] { net->run_block(block, x, j == 0); }, device, repeats);
              step();
            }
            x = out;
          }
        }
        if (!fixed_parts_timed) {
          table.entries[head_key(x.size(2), x.size(1), classes)] = time_it([&] { net->run_head(x); }, device, repeats);
          step();
          fixed_parts_timed = true;
        }
      }
    }
  }
  return table;
}

double OfaLatencyTable::predict(const OfaSpec& spec, const OfaArch& arch) const {
  const auto w = spec.widths();
  const auto at = [&](const std::string& key) {
    auto it = entries.find(key);
    if (it == entries.end()) throw Error("latency table: no entry '" + key + "' (built for another space, channels or classes?)");
    return it->second.median;
  };
  std::int64_t size = (arch.r + 1) / 2;
  double ms = at(stem_key(arch.r, in_channels, w[1]));
  for (int s = 0; s < OfaSpec::kStages; ++s) {
    for (int j = 0; j < arch.d[static_cast<std::size_t>(s)]; ++j) {
      const std::size_t b = static_cast<std::size_t>(s * OfaSpec::kMaxDepth + j);
      const std::int64_t in = j == 0 ? w[static_cast<std::size_t>(s + 1)] : w[static_cast<std::size_t>(s + 2)];
      const std::int64_t stride = j == 0 ? ofa_stage_stride(s) : 1;
      const std::int64_t out_size = (size - 1) / stride + 1;
      ms += at(block_key(size, in, out_size, w[static_cast<std::size_t>(s + 2)], ofa_mid_channels(in, arch.e[b]), arch.ks[b], stride, j > 0,
                         ofa_stage_se(s), ofa_stage_hswish(s)));
      size = out_size;
    }
  }
  return ms + at(head_key(size, w[6], classes));
}

void OfaLatencyTable::save(const std::string& path) const {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "device" << YAML::Value << device << YAML::Key << "space" << YAML::Value << space
      << YAML::Key << "channels" << YAML::Value << in_channels << YAML::Key << "classes" << YAML::Value << classes << YAML::Key
      << "entries" << YAML::Value << YAML::BeginMap;
  for (const auto& [key, stat] : entries)
    out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "count" << YAML::Value << stat.count
        << YAML::Key << "mean" << YAML::Value << stat.mean << YAML::Key << "std" << YAML::Value << stat.std << YAML::Key << "median" << YAML::Value << stat.median << YAML::EndMap;
  out << YAML::EndMap << YAML::EndMap;
  std::ofstream file(path);
  if (!(file << out.c_str() << "\n")) throw Error("latency table: cannot write '" + path + "'");
}

OfaLatencyTable OfaLatencyTable::load(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& error) {
    throw Error("latency table '" + path + "': " + std::string(error.what()).substr(0, 200));
  }
  OfaLatencyTable table;
  try {
    table.device = root["device"].as<std::string>();
    table.space = root["space"].as<std::string>();
    table.in_channels = root["channels"].as<std::int64_t>();
    table.classes = root["classes"].as<std::int64_t>();
    for (const auto& item : root["entries"]) {
      LatencyStat stat;
      stat.count = item.second["count"].as<int>();
      stat.mean = item.second["mean"].as<double>();
      stat.std = item.second["std"].as<double>();
      stat.median = item.second["median"] ? item.second["median"].as<double>() : stat.mean;
      table.entries[item.first.as<std::string>()] = stat;
    }
  } catch (const YAML::Exception&) {
    throw Error("latency table '" + path + "': not a latency table (expected device, space, channels, classes and entries)");
  }
  return table;
}

double measure_latency_ms(Network& net, const std::vector<std::int64_t>& shape, const std::string& device_name, int repeats) {
  torch::NoGradGuard no_grad;
  const torch::Device device(device_name);
  net.eval();
  std::vector<std::int64_t> full{1};
  full.insert(full.end(), shape.begin(), shape.end());
  const torch::Tensor x = torch::zeros(full, torch::TensorOptions().device(device));
  std::vector<double> times;
  for (int i = 0; i < 3 + repeats; ++i) {
    if (device.is_cuda()) torch::cuda::synchronize();
    const auto start = std::chrono::steady_clock::now();
    net.forward(x);
    if (device.is_cuda()) torch::cuda::synchronize();
    if (i >= 3) times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
  return times[times.size() / 2];
}

}  // namespace nascent
