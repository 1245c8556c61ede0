import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';

/**
 * The ONNX IR as published (onnx.proto compiled by protoc-gen-es, package onnx-buf): the writer
 * builds plain message shapes of these schemas, and this module encodes them. int64 fields are
 * bigints, oneofs are `{ case, value }`.
 */

/** TensorProto.DataType values the writer uses. */
export const ElemType = {
  FLOAT: TensorProto_DataType.FLOAT,
  INT32: TensorProto_DataType.INT32,
  INT64: TensorProto_DataType.INT64,
  FLOAT16: TensorProto_DataType.FLOAT16,
} as const;
export type ElemType = (typeof ElemType)[keyof typeof ElemType];

export const AttrType = AttributeProto_AttributeType;

export type TensorMessage = MessageInitShape<typeof TensorProtoSchema>;
export type AttributeMessage = MessageInitShape<typeof AttributeProtoSchema>;
export type NodeMessage = MessageInitShape<typeof NodeProtoSchema>;
export type ValueInfoMessage = MessageInitShape<typeof ValueInfoProtoSchema>;
export type ModelMessage = MessageInitShape<typeof ModelProtoSchema>;

/** A dimension is a fixed size or a symbolic name (a dynamic axis such as "batch_size"). */
export type Dim = number | string;

export function encodeModel(model: ModelMessage): Uint8Array {
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, model));
}
