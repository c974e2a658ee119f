// DARTS and RARTS as run methods: train the cell supernet for its epochs, storing each epoch's
// derived genotype (stage epoch) and its alphas and losses as curves, then train the derived
// architecture with the run's `final_training` steps (runner/final_training.hpp, stage final).
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "core/registry.hpp"
#include "evaluators/train_evaluator.hpp"
#include "strategies/differentiable.hpp"
#include "strategies/method.hpp"
#include "strategies/weight_sharing.hpp"

namespace nascent {

namespace {

OptionTable differentiable_options(const std::string& method) {
  const DifferentiableOptions d;
  OptionTable table;
  table.section("dataset", "the data the supernet trains on (split into weight and alpha halves)")
      .section("supernet", "the supernet's options (see nascent options supernet nb201_cell / darts_cell)")
      .integer("epochs", d.epochs, "supernet training epochs").at_least(1)
      .integer("batch_size", d.batch_size, "batch size (BatchNorm needs two samples)").at_least(2)
      .integer("steps_per_epoch", 0, "steps per epoch (0: one pass over the weight split)").at_least(0)
      .number("train_portion", d.train_portion, "share of the training split for the weights, in (0, 1); the rest for alpha")
      .number("lr", d.lr, "weight learning rate (cosine to lr_min per epoch)").at_least(1e-12)
      .number("lr_min", d.lr_min, "final weight learning rate").at_least(0)
      .number("momentum", d.momentum, "SGD momentum").at_least(0).at_most(0.999999)
      .optional("nesterov", OptionType::Flag, "Nesterov momentum (default: true on nb201, false on darts)")
      .optional("weight_decay", OptionType::Number, "weight decay (default: 5e-4 on nb201, 3e-4 on darts)")
      .number("grad_clip", d.grad_clip, "gradient norm clip of each weight step (0: none)").at_least(0)
      .number("arch_lr", d.arch_lr, "architecture (Adam) learning rate").at_least(1e-12)
      .numbers("arch_betas", {d.arch_beta1, d.arch_beta2}, "Adam betas of the architecture weights").at_least(0).at_most(0.999999)
      .number("arch_weight_decay", d.arch_weight_decay, "architecture weight decay").at_least(0)
      .text("device", d.device, "cpu, cuda or cuda:N (--device overrides)")
      .integer("eval_batch_size", d.eval_batch_size, "evaluation batch size").at_least(1);
  if (method == "darts") {
    table.integer("order", d.order, "1 (first order) or 2 (unrolled, finite-difference Hessian-vector product)").at_least(1).at_most(2)
        .number("hessian_radius", d.hessian_radius, "second order: the finite-difference radius").at_least(1e-300);
  } else {
    table.number("lambda", d.lambda, "weight of L_train(w, a) in the objective").at_least(0)
        .number("beta", d.beta, "coupling beta/2 |y - w|^2").at_least(0)
        .number("lr_y", d.lr_y, "learning rate of y (< 0: the schedule of w)")
        .flag("coupling_in_w_step", d.coupling_in_w_step, "add beta (w - y) to w's gradient too")
        .flag("fresh_arch_gradients", d.fresh_arch_gradients, "recompute alpha's gradients at the new w and y");
  }
  return table;
}

struct EpochInterrupted {};

class DifferentiableMethod final : public Method {
 public:
  DifferentiableMethod(const Options& options, std::string method) : options_(options), method_(std::move(method)) {}

  std::string label() const override { return method_ == "darts" ? "darts-order" + std::to_string(settings_.order) : method_; }
  std::string evaluator_label() const override { return evaluator_names_.empty() ? "none" : evaluator_names_; }
  std::vector<std::string> sections() const override { return {}; }
  std::vector<std::string> budget_keys() const override { return {"seconds", "epochs"}; }
  bool resumable() const override { return true; }
  bool trains_data_parallel() const override { return true; }

  void restore(RunContext& context) override {
    const auto payload = read_checkpoint_file(context.checkpoint_path);
    if (!payload) return;  // killed before its first epoch ended: start over
    try {
      search_->load_state(*payload);
    } catch (const c10::Error& error) {
      throw Error("checkpoint '" + context.checkpoint_path + "' does not fit this run's supernet (" +
                  std::string(error.what_without_backtrace()).substr(0, 120) + ")");
    }
    if (search_->steps_into_epoch() > 0)
      context.progress("continuing epoch " + std::to_string(search_->epochs_done() + 1) + " at step " +
                           std::to_string(search_->steps_into_epoch() + 1) + "/" + std::to_string(search_->steps_per_epoch()),
                       true);
  }
  std::string default_metric(const Config& config) const override {
    const auto finals = final_training_sections(config);
    return finals.empty() ? "val_acc" : finals.front().get<std::string>("metric", "val_acc");
  }

  void prepare(RunContext& context) override {
    read_settings(context);
    const DataSplits loaded = load_dataset(options_.section("dataset"), context.config_dir);
    data_ = loaded;
    if (data_.train.images.scalar_type() == torch::kLong)
      throw Error("config: strategy.dataset: " + method_ + " searches cell spaces of image networks; '" + data_.name + "' is text");
    const Task task{data_.input_shape, data_.num_classes, data_.vocabulary_size};
    const SearchSpace& space = *context.space;
    require_capability<CellSupernetSpace>(space, method_, "builds no cell supernet");
    w_net_ = make_cell_supernet(space, options_.section("supernet"), task);
    y_net_ = method_ == "rarts" ? make_cell_supernet(space, options_.section("supernet"), task) : nullptr;
    // The run driver trains the derived cell with the config's final_training steps.
    for (const auto& section : final_training_sections(*context.config))
      evaluator_names_ += (evaluator_names_.empty() ? "" : ",") + section.get<std::string>("name", "train");
    check_batch_splits(options_, "batch_size", settings_.batch_size, context);
    search_ = std::make_unique<DifferentiableSearch>(w_net_, y_net_, data_.train, settings_, context.seed);
    try {
      space.canonical(w_net_->genotype(search_->alphas()));
    } catch (const Error& error) {
      throw Error("config: strategy.supernet does not match the space: its genotypes do not parse (" + std::string(error.what()) + ")");
    }
  }

  MethodResult run(RunContext& context) override {
    MethodResult result;
    if (DataParallel* group = context.data_parallel) {
      // Every process continues from process 0's state: a resumed one's checkpoint, or the same
      // seeded start.
      const std::string state = group->broadcast(group->rank() == 0 ? search_->save_state() : std::string());
      if (group->rank() != 0) search_->load_state(state);
      search_->train_with(group);
    }
    if (search_->epochs_done() > 0) result.best_arch = context.space->canonical(w_net_->genotype(search_->alphas()));
    result.status = train_supernet(context, result);
    if (search_->epochs_done() == 0) {
      // Nothing derived yet: no architecture to train.
      if (result.status == "budget") context.progress("the run's time budget ended before the first epoch", true);
      return result;
    }
    result.evaluated_now += search_->epochs_done();
    result.counted = result.evaluated_now;
    return result;
  }

 private:
  void read_settings(RunContext& context) {
    DifferentiableOptions& o = settings_;
    o.method = method_;
    const bool nb201 = context.space->name() == "nb201";
    o.weight_decay = options_.maybe<double>("weight_decay").value_or(nb201 ? 5e-4 : 3e-4);
    o.nesterov = options_.maybe<bool>("nesterov").value_or(nb201);
    if (method_ == "darts") {
      o.order = options_.get<int>("order");
      o.hessian_radius = options_.get<double>("hessian_radius");
    } else {
      o.lambda = options_.get<double>("lambda");
      o.beta = options_.get<double>("beta");
      o.lr_y = options_.get<double>("lr_y");
      o.coupling_in_w_step = options_.get<bool>("coupling_in_w_step");
      o.fresh_arch_gradients = options_.get<bool>("fresh_arch_gradients");
    }
    o.epochs = options_.get<int>("epochs");
    o.batch_size = options_.get<long long>("batch_size");
    o.steps_per_epoch = options_.get<long long>("steps_per_epoch");
    o.train_portion = options_.get<double>("train_portion");
    if (!(o.train_portion > 0 && o.train_portion < 1)) options_.fail("train_portion", "must be in (0, 1)");
    o.lr = options_.get<double>("lr");
    o.lr_min = options_.get<double>("lr_min");
    o.momentum = options_.get<double>("momentum");
    o.grad_clip = options_.get<double>("grad_clip");
    o.arch_lr = options_.get<double>("arch_lr");
    const auto betas = options_.get<std::vector<double>>("arch_betas");
    if (betas.size() != 2) options_.fail("arch_betas", "expected two numbers in [0, 1)");
    o.arch_beta1 = betas[0];
    o.arch_beta2 = betas[1];
    o.arch_weight_decay = options_.get<double>("arch_weight_decay");
    o.eval_batch_size = options_.get<long long>("eval_batch_size");
    o.device = method_device(options_, context);
    if (o.momentum == 0) o.nesterov = false;
  }

  // The training steps `budget.epochs` allows; a fractional budget ends inside an epoch, which a
  // larger budget on --resume continues.
  std::int64_t step_limit(const RunContext& context) const {
    const std::int64_t steps = search_->steps_per_epoch(), all = static_cast<std::int64_t>(settings_.epochs) * steps;
    if (!context.budget.epochs) return all;
    return std::min(all, static_cast<std::int64_t>(std::ceil(*context.budget.epochs * static_cast<double>(steps) - 1e-9)));
  }

  // Trains epoch by epoch; returns how training ended.
  std::string train_supernet(RunContext& context, MethodResult& result) {
    const double total_steps = static_cast<double>(settings_.epochs) * static_cast<double>(search_->steps_per_epoch());
    const auto training_started = std::chrono::steady_clock::now();
    const std::int64_t limit = step_limit(context);
    while (search_->epochs_done() < settings_.epochs) {
      if (agreed(context, context.interrupted())) return "interrupted";
      if (agreed(context, context.out_of_time() || search_->steps_done() >= limit)) return "budget";
      const int epoch = search_->epochs_done() + 1;
      EpochRecord record;
      try {
        record = search_->run_epoch([&](std::int64_t step, std::int64_t steps, double loss) {
          // Ctrl-C, the time budget and a fractional epoch budget end the run after this step; an
          // epoch whose last step reaches the epoch budget is finished and stored first.
          if (agreed(context, context.should_stop() || (search_->steps_done() >= limit && step < steps)))
            throw EpochInterrupted{};
          const double done = static_cast<double>(epoch - 1) * static_cast<double>(steps) + static_cast<double>(step);
          const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - training_started).count();
          char line[256];
          std::snprintf(line, sizeof line, "[epoch %d/%d step %lld/%lld] train_loss %.4f  elapsed %s  ~%s left", epoch, settings_.epochs,
                        static_cast<long long>(step), static_cast<long long>(steps), loss, format_duration(context.elapsed()).c_str(),
                        format_duration(spent / done * (total_steps - done)).c_str());
          context.progress(line, step == steps);
        });
      } catch (const EpochInterrupted&) {
        // Ctrl-C or a budget inside an epoch: the steps done so far are kept, and --resume continues
        // with the next one.
        if (!context.replica) write_checkpoint_file(context.checkpoint_path, search_->save_state());
        context.progress("stopped in epoch " + std::to_string(epoch) + "; its steps so far are checkpointed", true);
        return agreed(context, context.interrupted()) ? "interrupted" : "budget";
      }
      store_epoch(context, record, result);
    }
    return "finished";
  }

  // Process 0's decision on every process of a data-parallel run.
  static bool agreed(RunContext& context, bool mine) { return context.data_parallel ? context.data_parallel->agree(mine) : mine; }

  void store_epoch(RunContext& context, const EpochRecord& record, MethodResult& result) {
    Evaluation e;
    e.device = settings_.device;
    e.seconds = record.seconds;
    e.cost = record.seconds;
    const SkipShare share = skip_share(*w_net_, search_->alphas());
    e.metrics = {{"epoch", record.epoch},     {"train_loss", record.train_loss}, {"train_acc", record.train_acc},
                 {"val_loss", record.val_loss}, {"val_acc", record.val_acc},       {"lr", record.lr},
                 {"skip_share", share.genotype_share}, {"skip_weight", share.alpha_weight}};
    const std::string arch = context.space->canonical(record.genotype);
    context.record(Stage::Epoch, arch, e, std::nullopt, record.epoch - 1);
    for (const auto& [name, value] : e.metrics)
      if (name != "epoch") context.record_curve("supernet." + name, record.epoch, value);
    const auto alpha_names = w_net_->alpha_names();
    const auto edge_names = w_net_->edge_names();
    const auto op_names = w_net_->op_names();
    for (std::size_t a = 0; a < record.alpha_softmax.size(); ++a)
      for (std::size_t r = 0; r < edge_names.size(); ++r)
        for (std::size_t o = 0; o < op_names.size(); ++o)
          context.record_curve("alpha." + alpha_names[a] + "." + edge_names[r] + "." + op_names[o], record.epoch,
                               record.alpha_softmax[a][static_cast<std::int64_t>(r)][static_cast<std::int64_t>(o)].item<double>());
    result.best_arch = arch;
    result.best_metrics = e.metrics;
    // After the epoch's records: a resumed run recomputes nothing it has stored.
    if (!context.replica) write_checkpoint_file(context.checkpoint_path, search_->save_state());
    char line[256];
    std::snprintf(line, sizeof line, "[epoch %d/%d] train_acc %.2f val_acc %.2f skip_connect %.2f  %s  elapsed %s", record.epoch,
                  settings_.epochs, record.train_acc, record.val_acc, share.genotype_share, arch.c_str(),
                  format_duration(context.elapsed()).c_str());
    context.progress(line, true);
  }

  Options options_;
  std::string method_;
  DifferentiableOptions settings_;
  DataSplits data_;
  std::shared_ptr<CellSupernet> w_net_, y_net_;
  std::string evaluator_names_;
  std::unique_ptr<DifferentiableSearch> search_;
};

}  // namespace

void register_differentiable_methods(Registries& registries) {
  registries.methods.add("darts", "DARTS (Liu et al. 2019): first- or second-order differentiable search on a cell supernet",
                         differentiable_options("darts"), [](const Options& options) -> std::unique_ptr<Method> {
                           return std::make_unique<DifferentiableMethod>(options, "darts");
                         });
  registries.methods.add("rarts", "RARTS (Xue et al. 2020): relaxed differentiable search with a second network y coupled to w",
                         differentiable_options("rarts"), [](const Options& options) -> std::unique_ptr<Method> {
                           return std::make_unique<DifferentiableMethod>(options, "rarts");
                         });
}

}  // namespace nascent
