#include "model/torch_info.hpp"
#include "pipelines/torch_commands.hpp"
#include "pipelines/torch_sae_common.hpp"

namespace evoscope::pipelines {

TorchRunners torch_runners() {
    TorchRunners runners;
    runners.model_init = &run_model_init;
    runners.convert = &run_convert;
    runners.score = &run_score;
    runners.embed = &run_embed;
    runners.train = &run_model_train;
    runners.train_sae = &run_train_sae;
    runners.eval_sae = &run_eval_sae;
    runners.encode = &run_encode;
    runners.convert_sae = &run_convert_sae;
    runners.set_threads = &model::set_num_threads;
    return runners;
}

}  // namespace evoscope::pipelines
