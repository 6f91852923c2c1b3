package cpubackend

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// capabilities lists the ops and dtypes implemented (each op for the dtypes its builder method accepts).
var capabilities = func() backends.Capabilities {
	c := backends.Capabilities{Operations: map[backends.OpType]bool{}, DTypes: map[dtypes.DType]bool{}}
	for _, op := range []backends.OpType{
		backends.OpTypeParameter, backends.OpTypeConstant, backends.OpTypeIdentity, backends.OpTypeIota,
		backends.OpTypeReshape, backends.OpTypeTranspose, backends.OpTypeBroadcastInDim, backends.OpTypeSlice,
		backends.OpTypeConcatenate, backends.OpTypeConvertDType, backends.OpTypeWhere,
		backends.OpTypeReduceSum, backends.OpTypeReduceMax, backends.OpTypeReduceMin, backends.OpTypeReduceProduct,
		backends.OpTypeArgMinMax, backends.OpTypeRNGBitGenerator, backends.OpTypeDot, backends.OpTypeDotGeneral,
		backends.OpTypeDynamicUpdateSlice, backends.OpTypeGather, backends.OpTypeScatterSum, backends.OpTypeScatterMax, backends.OpTypeScatterMin,
		backends.OpTypeAbs, backends.OpTypeNeg, backends.OpTypeSign, backends.OpTypeExp, backends.OpTypeExpm1,
		backends.OpTypeLog, backends.OpTypeLog1p, backends.OpTypeSqrt, backends.OpTypeRsqrt, backends.OpTypeLogistic,
		backends.OpTypeCos, backends.OpTypeSin, backends.OpTypeTanh, backends.OpTypeFloor, backends.OpTypeCeil,
		backends.OpTypeRound, backends.OpTypeErf, backends.OpTypeIsFinite, backends.OpTypeIsNaN,
		backends.OpTypeLogicalNot, backends.OpTypeBitwiseNot,
		backends.OpTypeAdd, backends.OpTypeSub, backends.OpTypeMul, backends.OpTypeDiv, backends.OpTypeMax,
		backends.OpTypeMin, backends.OpTypePow, backends.OpTypeRem,
		backends.OpTypeEqual, backends.OpTypeNotEqual, backends.OpTypeGreaterOrEqual, backends.OpTypeGreaterThan,
		backends.OpTypeLessOrEqual, backends.OpTypeLessThan,
		backends.OpTypeLogicalAnd, backends.OpTypeLogicalOr, backends.OpTypeLogicalXor,
		backends.OpTypeBitwiseAnd, backends.OpTypeBitwiseOr, backends.OpTypeBitwiseXor,
		backends.OpTypeShiftLeft, backends.OpTypeShiftRightLogical, backends.OpTypeShiftRightArithmetic,
	} {
		c.Operations[op] = true
	}
	for _, d := range []dtypes.DType{dtypes.Bool, dtypes.Float32, dtypes.Float64, dtypes.Int8, dtypes.Int16,
		dtypes.Int32, dtypes.Int64, dtypes.Uint8, dtypes.Uint16, dtypes.Uint32, dtypes.Uint64} {
		c.DTypes[d] = true
	}
	return c
}()
