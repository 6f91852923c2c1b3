package moe

import (
	"context"
	"errors"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// TrainRouter attaches mix to m (it stays attached) and trains only its routers on examples with
// cfg, the experts and base weights frozen. When balanceCoef > 0 the loss adds balanceCoef times the
// Mixtral/Switch load-balancing loss, n·Σ_e f_e·P_e averaged over the modules (f_e: the fraction of
// tokens whose top-k holds e, divided by k; P_e: e's mean softmax probability), which is 1 when the
// routing is balanced. The statistics cover every position of a batch, padding included (the adapter
// hook does not see the mask). cfg.ExtraLoss, if set, is added too.
func TrainRouter(ctx context.Context, m *model.Model, mix *Mixture, examples []lora.Sequence, balanceCoef float64, cfg lora.TrainConfig) (lora.Result, error) {
	if mix.Uniform {
		return lora.Result{}, ErrNoRouter
	}
	if len(examples) == 0 {
		return lora.Result{}, errors.New("moe: TrainRouter: no calibration examples")
	}
	if m.Adapter() != model.Adapter(mix) {
		m.SetAdapter(mix)
	}
	if balanceCoef > 0 {
		var recs []routing
		mix.record = func(r routing) { recs = append(recs, r) }
		defer func() { mix.record = nil }()
		user := cfg.ExtraLoss
		cfg.ExtraLoss = func(p model.Params) *graph.Node {
			r := recs
			recs = nil
			loss := graph.MulScalar(balanceLoss(r, mix.TopK), balanceCoef)
			if user != nil {
				loss = graph.Add(loss, user(p))
			}
			return loss
		}
	}
	return lora.Train(ctx, m, mix.RouterNames(), examples, cfg)
}
