// A CRI client, as the kubelet is one: gRPC over the daemon's unix socket,
// runtime.v1's RuntimeService and ImageService as runtime-v1.proto
// describes them (crictl is not packaged in Debian). Messages are plain
// objects with the proto's snake_case field names; enums travel as their
// names, int64 as numbers (ample for what the tests read), bytes as Buffers.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'runtime-v1.proto');

/** A CRI message: the tests build requests as object literals and read the answers' fields by name. */
export type Msg = Record<string, any>;

type Unary = (req: Msg, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Msg) => void) => void;

export interface ContainerStatus {
  id: string;
  state: 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';
  exit_code: number;
  reason: string;
  message: string;
  log_path: string;
  started_at: number;
  finished_at: number;
}

export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly image: grpc.Client;

  constructor(
    socket: string,
    private readonly deadlineMs = 120_000,
  ) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: Record<string, grpc.ServiceClientConstructor> } };
    const target = `unix://${socket}`;
    // containerd answers ListContainers/ExecSync with more than grpc-js's 4 MiB default on a busy daemon
    const options = { 'grpc.max_receive_message_length': 16 << 20 };
    this.runtime = new pkg.runtime.v1.RuntimeService(target, grpc.credentials.createInsecure(), options);
    this.image = new pkg.runtime.v1.ImageService(target, grpc.credentials.createInsecure(), options);
  }

  /** One unary call by its rpc name; a gRPC error becomes an Error naming the call and the daemon's message. */
  call(method: string, req: Msg = {}, deadlineMs = this.deadlineMs): Promise<Msg> {
    const client = method === 'ListImages' || method === 'ImageStatus' ? this.image : this.runtime;
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (!fn) throw new Error(`no CRI method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        if (err) reject(Object.assign(new Error(`${method}: ${err.details || err.message}`), { code: err.code }));
        else resolve(res);
      });
    });
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }

  version(): Promise<Msg> {
    return this.call('Version', { version: 'v1' });
  }

  async runPodSandbox(config: Msg, runtimeHandler: string): Promise<string> {
    return (await this.call('RunPodSandbox', { config, runtime_handler: runtimeHandler })).pod_sandbox_id as string;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call('StopPodSandbox', { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  podSandboxStatus(id: string, verbose = false): Promise<Msg> {
    return this.call('PodSandboxStatus', { pod_sandbox_id: id, verbose });
  }

  async listPodSandbox(filter: Msg = {}): Promise<Msg[]> {
    return (await this.call('ListPodSandbox', { filter })).items as Msg[];
  }

  async createContainer(podId: string, config: Msg, sandboxConfig: Msg): Promise<string> {
    return (await this.call('CreateContainer', { pod_sandbox_id: podId, config, sandbox_config: sandboxConfig })).container_id as string;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('StartContainer', { container_id: id });
  }

  async stopContainer(id: string, timeout = 0): Promise<void> {
    await this.call('StopContainer', { container_id: id, timeout });
  }

  async removeContainer(id: string): Promise<void> {
    await this.call('RemoveContainer', { container_id: id });
  }

  async listContainers(filter: Msg = {}): Promise<Msg[]> {
    return (await this.call('ListContainers', { filter })).containers as Msg[];
  }

  async containerStatus(id: string): Promise<ContainerStatus> {
    return (await this.call('ContainerStatus', { container_id: id })).status as ContainerStatus;
  }

  /** containerd's verbose info: the task's pid and the runtime spec it made. */
  async containerInfo(id: string): Promise<{ pid: number; runtimeSpec: Msg }> {
    const info = (await this.call('ContainerStatus', { container_id: id, verbose: true })).info as Record<string, string>;
    return JSON.parse(info.info ?? '{}');
  }

  async updateContainerResources(id: string, linux: Msg): Promise<void> {
    await this.call('UpdateContainerResources', { container_id: id, linux });
  }

  /** ExecSync; `timeout` in seconds, as the CRI takes it (0: none). */
  async execSync(id: string, cmd: string[], timeout = 0): Promise<{ stdout: string; stderr: string; exit_code: number }> {
    const r = await this.call('ExecSync', { container_id: id, cmd, timeout }, (timeout || 60) * 1000 + 30_000);
    return {
      stdout: Buffer.from(r.stdout as Buffer).toString(),
      stderr: Buffer.from(r.stderr as Buffer).toString(),
      exit_code: r.exit_code as number,
    };
  }

  async exec(req: Msg): Promise<string> {
    return (await this.call('Exec', req)).url as string;
  }

  async attach(req: Msg): Promise<string> {
    return (await this.call('Attach', req)).url as string;
  }

  async containerStats(id: string): Promise<Msg> {
    return (await this.call('ContainerStats', { container_id: id })).stats as Msg;
  }

  async listContainerStats(filter: Msg = {}): Promise<Msg[]> {
    return (await this.call('ListContainerStats', { filter })).stats as Msg[];
  }

  status(): Promise<Msg> {
    return this.call('Status', { verbose: false });
  }

  async imageStatus(image: string): Promise<Msg | null> {
    const r = await this.call('ImageStatus', { image: { image } });
    return (r.image as Msg | null) ?? null;
  }
}
