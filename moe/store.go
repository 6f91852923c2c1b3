package moe

import (
	"fmt"
	"slices"

	"github.com/accrete/accrete/lora"
	"github.com/accrete/accrete/model"
)

// routerPrefix names a router tensor kept beside an expert in a lora.Store.
const routerPrefix = "router/"

// RouterTensors returns the routers by store name ("router/" + the module's path); nil when Uniform.
func (m *Mixture) RouterTensors() map[string]*model.Tensor {
	if m.Uniform || len(m.Router) == 0 {
		return nil
	}
	out := make(map[string]*model.Tensor, len(m.Router))
	for mod, t := range m.Router {
		out[routerPrefix+mod.Path()] = t
	}
	return out
}

// LoadMixture rebuilds a mixture from a lora.Store in which the strategy kept its experts (an
// accrete.Learner with a Store does so): the experts are the stored adapters in round order, and the
// routers are those stored with the newest one. cfg gives TopK, Gate and Uniform as trained; with
// Uniform no router is read.
func LoadMixture(st *lora.Store, mc model.Config, cfg MixtureConfig) (*Mixture, error) {
	metas := st.List()
	if len(metas) == 0 {
		return nil, fmt.Errorf("moe: store %s holds no adapters", st.Dir())
	}
	var experts []*lora.Adapter
	var last lora.Meta
	for _, meta := range metas {
		a, full, err := st.Get(meta.Name, mc)
		if err != nil {
			return nil, err
		}
		experts = append(experts, a)
		last = full
	}
	if !cfg.Uniform {
		router := map[lora.Module]*model.Tensor{}
		mods := experts[0].Modules()
		for _, mod := range mods {
			t, ok := last.Extra[routerPrefix+mod.Path()]
			if !ok {
				return nil, fmt.Errorf("moe: store %s: adapter %q has no router for %s (stored with a router-free mixture?)",
					st.Dir(), last.Name, mod.Path())
			}
			if want := []int{len(experts), t.Shape[len(t.Shape)-1]}; !slices.Equal(t.Shape, want) {
				return nil, fmt.Errorf("moe: store %s: router for %s has shape %v, want %v (one row per stored expert)",
					st.Dir(), mod.Path(), t.Shape, want)
			}
			router[mod] = t
		}
		cfg.Init = router
	}
	return NewMixture("moe", experts, cfg)
}
