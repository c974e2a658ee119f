#include "core/training_state.hpp"

namespace nascent {

void StateWriter::tensor(const std::string& key, const torch::Tensor& value) {
  archive_.write(key + ".defined", c10::IValue(value.defined()));
  if (value.defined()) archive_.write(key, value.detach().to(torch::kCPU));
}

void StateWriter::module(const std::string& key, torch::nn::Module& module) {
  torch::serialize::OutputArchive part;
  module.save(part);
  archive_.write(key, part);
}

void StateWriter::optimizer(const std::string& key, torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive part;
  optimizer.save(part);
  archive_.write(key, part);
}

void StateWriter::generator(const std::string& key, at::Generator& generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  archive_.write(key, generator.get_state());
}

void StateWriter::rng(const std::string& key, const Rng& rng) {
  std::ostringstream out;
  out << rng;
  text(key, out.str());
}

std::string StateWriter::bytes() {
  std::ostringstream out;
  archive_.save_to(out);
  return out.str();
}

StateReader::StateReader(const std::string& bytes) {
  std::istringstream in(bytes);
  archive_.load_from(in);
}

std::int64_t StateReader::integer(const std::string& key) {
  c10::IValue value;
  archive_.read(key, value);
  return value.toInt();
}

double StateReader::number(const std::string& key) {
  c10::IValue value;
  archive_.read(key, value);
  return value.toDouble();
}

std::string StateReader::text(const std::string& key) {
  c10::IValue value;
  archive_.read(key, value);
  return value.toStringRef();
}

torch::Tensor StateReader::tensor(const std::string& key, const torch::Device& device) {
  c10::IValue defined;
  archive_.read(key + ".defined", defined);
  if (!defined.toBool()) return {};
  torch::Tensor value;
  archive_.read(key, value);
  return value.to(device);
}

void StateReader::module(const std::string& key, torch::nn::Module& module, const torch::Device& device) {
  torch::serialize::InputArchive part;
  archive_.read(key, part);
  module.load(part);
  module.to(device);
}

void StateReader::optimizer(const std::string& key, torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive part;
  archive_.read(key, part);
  optimizer.load(part);
}

void StateReader::generator(const std::string& key, at::Generator& generator) {
  torch::Tensor state;
  archive_.read(key, state);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

void StateReader::rng(const std::string& key, Rng& rng) {
  std::istringstream in(text(key));
  in >> rng;
}

bool StateReader::has(const std::string& key) {
  c10::IValue value;
  return archive_.try_read(key, value);
}

void EpochInProgress::save(StateWriter& state) const {
  state.integer("epoch_in_progress.steps", steps);
  state.number("epoch_in_progress.loss_sum", loss_sum);
  state.number("epoch_in_progress.seconds", seconds);
  state.number("epoch_in_progress.lr", lr);
  state.number("epoch_in_progress.correct", correct);
  state.number("epoch_in_progress.seen", seen);
}

EpochInProgress EpochInProgress::load(StateReader& state) {
  EpochInProgress epoch;
  if (!state.has("epoch_in_progress.steps")) return epoch;
  epoch.steps = state.integer("epoch_in_progress.steps");
  epoch.loss_sum = state.number("epoch_in_progress.loss_sum");
  epoch.seconds = state.number("epoch_in_progress.seconds");
  epoch.lr = state.number("epoch_in_progress.lr");
  epoch.correct = state.number("epoch_in_progress.correct");
  epoch.seen = state.number("epoch_in_progress.seen");
  return epoch;
}

}  // namespace nascent
