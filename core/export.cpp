#include "core/export.hpp"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/script.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/checkpoint.hpp"
#include "core/error.hpp"

namespace nascent {

namespace {

namespace fs = std::filesystem;

std::string first_line_of(const std::string& text) { return text.substr(0, text.find('\n')); }

// LibTorch's archive reader does not check the zip entries' CRCs, so a flipped byte inside a tensor
// would load silently: the weights carry their own checksum over every tensor's name and bytes.
std::uint64_t add_to_checksum(std::uint64_t running, const std::string& name, const torch::Tensor& tensor) {
  running = checksum64(name.data(), name.size(), running);
  const torch::Tensor bytes = tensor.contiguous();
  return checksum64(bytes.data_ptr(), bytes.nbytes(), running);
}

std::string hex64(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// "nascent::(anonymous namespace)::CellImpl" -> "Cell": TorchScript class names must be identifiers.
std::string class_name(const torch::nn::Module& module) {
  std::string name = module.name();
  const auto colon = name.rfind("::");
  if (colon != std::string::npos) name = name.substr(colon + 2);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
  std::string clean;
  for (char c : name) clean += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (clean.empty() || std::isdigit(static_cast<unsigned char>(clean[0]))) clean = "Module" + clean;
  return clean;
}

// The same tensors, registered under the same names: the tracer turns every use of a registered
// tensor into an attribute read, so the weights stay parameters instead of becoming constants.
torch::jit::Module mirror(torch::nn::Module& module, const std::shared_ptr<torch::jit::CompilationUnit>& unit) {
  torch::jit::Module out(c10::QualifiedName("__torch__.nascent." + class_name(module)), unit, /*shouldMangle=*/true);
  for (auto& parameter : module.named_parameters(/*recurse=*/false))
    if (parameter.value().defined()) out.register_parameter(parameter.key(), parameter.value(), /*is_buffer=*/false);
  for (auto& buffer : module.named_buffers(/*recurse=*/false))
    if (buffer.value().defined()) out.register_buffer(buffer.key(), buffer.value());
  for (auto& child : module.named_children()) out.register_module(child.key(), mirror(*child.value(), unit));
  return out;
}

double max_difference(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.sizes() != b.sizes()) return std::numeric_limits<double>::infinity();
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

torch::Tensor run_module(torch::jit::Module& module, const torch::Tensor& input) {
  torch::NoGradGuard no_grad;
  return module.forward({input}).toTensor();
}

}  // namespace

std::string ExportInfo::json() const {
  nlohmann::json out;
  out["format"] = "nascent-export-1";
  out["space"] = space;
  out["arch"] = arch;
  out["input_shape"] = input_shape;
  out["input_dtype"] = token_input ? "int64" : "float32";
  out["num_classes"] = num_classes;
  if (!mean.empty()) out["mean"] = mean;
  if (!std.empty()) out["std"] = std;
  if (!class_names.empty()) out["class_names"] = class_names;
  return out.dump(2);
}

torch::jit::Module to_torchscript(Network& net, const torch::Tensor& example) {
  net.eval();
  auto unit = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module module = mirror(net, unit);
  try {
    torch::NoGradGuard no_grad;
    auto traced = torch::jit::tracer::trace(
        {example},
        [&net](torch::jit::Stack inputs) -> torch::jit::Stack { return {net.forward(inputs.at(0).toTensor())}; },
        [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/true,
        /*force_outplace=*/false, &module);
    torch::jit::Function* forward = module._ivalue()->compilation_unit()->create_function(
        c10::QualifiedName(*module.type()->name(), "forward"), traced.first->graph);
    module.type()->addMethod(forward);
  } catch (const c10::Error& error) {
    throw Error("export: cannot record the network's forward: " + first_line_of(error.what_without_backtrace()));
  }
  module.eval();
  return module;
}

torch::Tensor example_input(const ExportInfo& info, std::int64_t batch, std::int64_t vocabulary_size,
                            std::uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::int64_t> shape{batch};
  shape.insert(shape.end(), info.input_shape.begin(), info.input_shape.end());
  if (info.token_input) return torch::randint(1, std::max<std::int64_t>(2, vocabulary_size), shape, generator, torch::kInt64);
  return torch::randn(shape, generator, torch::kFloat32);
}

ExportFigures export_torchscript(Network& net, const torch::Tensor& example, const ExportInfo& info,
                                 const std::string& path, double tolerance) {
  const auto started = std::chrono::steady_clock::now();
  torch::jit::Module module = to_torchscript(net, example);
  const std::string partial = path + ".partial";
  ExportFigures figures;
  try {
    std::error_code ec;
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec)) throw Error("export: " + parent.string() + ": no such folder");
    if (fs::is_directory(path, ec)) throw Error("export: " + path + " is a folder; name the file to write");
    torch::jit::ExtraFilesMap extra{{kExportInfoFile, info.json()}};
    try {
      module.save(partial, extra);
    } catch (const c10::Error& error) {
      throw Error("export: " + path + ": cannot write (" + first_line_of(error.what_without_backtrace()) + ")");
    }
    // The check runs on the file as written, not on the module in memory: what ships is the file.
    torch::jit::Module reloaded = torch::jit::load(partial);
    torch::Tensor expected;
    {
      torch::NoGradGuard no_grad;
      expected = net.forward(example);
    }
    figures.max_difference = max_difference(expected, run_module(reloaded, example));
    if (!(figures.max_difference <= tolerance))
      throw Error("export: the TorchScript module's logits differ from nascent's by " +
                  std::to_string(figures.max_difference) + " (tolerance " + std::to_string(tolerance) + ")");
    // Users batch differently from the recording; say whether the module follows.
    try {
      const torch::Tensor other = torch::cat({example, example.slice(0, 0, 1)});
      torch::Tensor other_expected;
      {
        torch::NoGradGuard no_grad;
        other_expected = net.forward(other);
      }
      figures.other_batch_sizes = max_difference(other_expected, run_module(reloaded, other)) <= tolerance;
    } catch (const std::exception&) {
      figures.other_batch_sizes = false;
    }
    std::error_code renamed;
    fs::rename(partial, path, renamed);
    if (renamed) throw Error("export: cannot write " + path + ": " + renamed.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    throw;
  }
  figures.bytes = fs::file_size(path);
  figures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return figures;
}

void save_weights(Network& net, const std::string& space, const std::string& arch, const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write("nascent.format", c10::IValue(std::string("nascent-weights-1")));
  archive.write("nascent.space", c10::IValue(space));
  archive.write("nascent.arch", c10::IValue(arch));
  std::uint64_t checksum = kChecksumStart;
  const auto add = [&](const std::string& name, const torch::Tensor& value, bool is_buffer) {
    const torch::Tensor on_cpu = value.detach().to(torch::kCPU);
    checksum = add_to_checksum(checksum, name, on_cpu);
    archive.write(name, on_cpu, is_buffer);
  };
  for (const auto& item : net.named_parameters())
    if (item.value().defined()) add(item.key(), item.value(), false);
  for (const auto& item : net.named_buffers())
    if (item.value().defined()) add(item.key(), item.value(), true);
  archive.write("nascent.checksum", c10::IValue(hex64(checksum)));
  const std::string partial = path + ".partial";
  try {
    archive.save_to(partial);
    fs::rename(partial, path);
  } catch (const std::exception& error) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
    throw Error(path + ": cannot write weights (" + first_line_of(torch_error ? torch_error->what_without_backtrace() : error.what()) + ")");
  }
}

void load_weights(Network& net, const std::string& space, const std::string& arch, const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(path + " is a folder, not a weights file");
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": no such weights file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& error) {
    throw Error(path + ": not a nascent weights file (" + first_line_of(error.what_without_backtrace()) + ")");
  }
  c10::IValue value;
  if (!archive.try_read("nascent.format", value) || !value.isString() || value.toStringRef() != "nascent-weights-1")
    throw Error(path + ": not a nascent weights file (no nascent-weights-1 tag)");
  archive.read("nascent.space", value);
  const std::string stored_space = value.toStringRef();
  archive.read("nascent.arch", value);
  const std::string stored_arch = value.toStringRef();
  if (stored_space != space || stored_arch != arch)
    throw Error(path + ": weights of " + stored_space + " architecture '" + stored_arch + "', not of " + space + " '" +
                arch + "'");
  // Everything is read and checked before the network changes, so a damaged file leaves it as it was.
  // Tensors are handles, so each target copy still writes into the network's own storage.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> stored_tensors;
  std::uint64_t checksum = kChecksumStart;
  const auto read = [&](const std::string& name, const torch::Tensor& target, bool is_buffer) {
    torch::Tensor stored;
    try {
      if (!archive.try_read(name, stored, is_buffer)) throw Error(path + ": no tensor '" + name + "' for this network");
    } catch (const c10::Error& error) {
      throw Error(path + ": damaged weights file (tensor '" + name + "': " + first_line_of(error.what_without_backtrace()) + ")");
    }
    if (stored.sizes() != target.sizes())
      throw Error(path + ": tensor '" + name + "' has shape " + c10::str(stored.sizes()) + ", the network wants " +
                  c10::str(target.sizes()));
    checksum = add_to_checksum(checksum, name, stored);
    stored_tensors.emplace_back(target, std::move(stored));
  };
  for (auto& item : net.named_parameters())
    if (item.value().defined()) read(item.key(), item.value(), false);
  for (auto& item : net.named_buffers())
    if (item.value().defined()) read(item.key(), item.value(), true);
  // Files written before the checksum existed have none and load as they did.
  if (archive.try_read("nascent.checksum", value) && (!value.isString() || value.toStringRef() != hex64(checksum)))
    throw Error(path + ": damaged weights file (checksum mismatch)");
  torch::NoGradGuard no_grad;
  for (auto& [target, stored] : stored_tensors) target.copy_(stored);
}

}  // namespace nascent
