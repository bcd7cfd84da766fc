/*
 * Runs tensors through a SavedModel with TensorFlow's C API, in a process without Python.
 *
 * This is the loading path TensorFlow Serving uses: TF_LoadSessionFromSavedModel with the "serve" tag,
 * then TF_SessionRun on the graph tensors that a signature names. export/serving_c_api.py compiles this
 * file against the installed tensorflow wheel and maps signature inputs and outputs to tensor names.
 *
 * Usage:
 *   run_signature EXPORT_DIR NUM_INPUTS NUM_OUTPUTS
 *       [OP_NAME INDEX DTYPE RANK DIM... INPUT_FILE] * NUM_INPUTS
 *       [OP_NAME INDEX OUTPUT_FILE] * NUM_OUTPUTS
 * DTYPE is a TF_DataType number; INPUT_FILE holds the raw C-order bytes. Each OUTPUT_FILE receives
 * int32 dtype, int32 rank, int64 dims[rank], then the raw bytes.
 * Exit status: 0 on success, 1 on a usage or I/O error, 2 when TensorFlow refuses the request.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"

static void fail(int code, const char *what, const char *detail) {
  fprintf(stderr, "run_signature: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(code);
}

static void *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) fail(1, "cannot open input file", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *data = malloc(n > 0 ? (size_t)n : 1);
  if (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n) fail(1, "cannot read input file", path);
  fclose(f);
  *size = (size_t)n;
  return data;
}

static TF_Output find_output(TF_Graph *graph, const char *name, int index) {
  TF_Operation *op = TF_GraphOperationByName(graph, name);
  if (!op) fail(1, "no such operation in the graph", name);
  TF_Output out = {op, index};
  return out;
}

int main(int argc, char **argv) {
  if (argc < 4) fail(1, "usage", "run_signature EXPORT_DIR NUM_INPUTS NUM_OUTPUTS [inputs] [outputs]");
  int a = 1;
  const char *export_dir = argv[a++];
  int num_inputs = atoi(argv[a++]);
  int num_outputs = atoi(argv[a++]);

  TF_Status *status = TF_NewStatus();
  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Session *session = TF_LoadSessionFromSavedModel(options, NULL, export_dir, tags, 1, graph, NULL, status);
  if (TF_GetCode(status) != TF_OK) fail(2, "cannot load the SavedModel", TF_Message(status));

  TF_Output *inputs = calloc(num_inputs > 0 ? num_inputs : 1, sizeof(TF_Output));
  TF_Tensor **input_values = calloc(num_inputs > 0 ? num_inputs : 1, sizeof(TF_Tensor *));
  for (int i = 0; i < num_inputs; ++i) {
    if (a + 4 > argc) fail(1, "usage", "missing input arguments");
    const char *name = argv[a++];
    int index = atoi(argv[a++]);
    TF_DataType dtype = (TF_DataType)atoi(argv[a++]);
    int rank = atoi(argv[a++]);
    if (rank < 0 || a + rank + 1 > argc) fail(1, "usage", "bad input rank");
    int64_t dims[16];
    int64_t count = 1;
    for (int d = 0; d < rank; ++d) {
      dims[d] = atoll(argv[a++]);
      count *= dims[d];
    }
    size_t size = 0;
    void *data = read_file(argv[a++], &size);
    if (size != (size_t)count * TF_DataTypeSize(dtype)) fail(1, "input file size does not match its shape", name);
    inputs[i] = find_output(graph, name, index);
    input_values[i] = TF_AllocateTensor(dtype, dims, rank, size);
    if (size) memcpy(TF_TensorData(input_values[i]), data, size);
    free(data);
  }

  TF_Output *outputs = calloc(num_outputs > 0 ? num_outputs : 1, sizeof(TF_Output));
  TF_Tensor **output_values = calloc(num_outputs > 0 ? num_outputs : 1, sizeof(TF_Tensor *));
  const char **output_files = calloc(num_outputs > 0 ? num_outputs : 1, sizeof(char *));
  for (int i = 0; i < num_outputs; ++i) {
    if (a + 3 > argc) fail(1, "usage", "missing output arguments");
    const char *name = argv[a++];
    int index = atoi(argv[a++]);
    outputs[i] = find_output(graph, name, index);
    output_files[i] = argv[a++];
  }

  TF_SessionRun(session, NULL, inputs, input_values, num_inputs, outputs, output_values, num_outputs, NULL, 0,
                NULL, status);
  if (TF_GetCode(status) != TF_OK) fail(2, "the session refused the request", TF_Message(status));

  for (int i = 0; i < num_outputs; ++i) {
    FILE *f = fopen(output_files[i], "wb");
    if (!f) fail(1, "cannot write output file", output_files[i]);
    int32_t dtype = (int32_t)TF_TensorType(output_values[i]);
    int32_t rank = (int32_t)TF_NumDims(output_values[i]);
    fwrite(&dtype, sizeof dtype, 1, f);
    fwrite(&rank, sizeof rank, 1, f);
    for (int d = 0; d < rank; ++d) {
      int64_t dim = TF_Dim(output_values[i], d);
      fwrite(&dim, sizeof dim, 1, f);
    }
    fwrite(TF_TensorData(output_values[i]), 1, TF_TensorByteSize(output_values[i]), f);
    fclose(f);
    TF_DeleteTensor(output_values[i]);
  }
  for (int i = 0; i < num_inputs; ++i) TF_DeleteTensor(input_values[i]);
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  free(inputs);
  free(input_values);
  free(outputs);
  free(output_values);
  free(output_files);
  return 0;
}
