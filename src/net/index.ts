// The forwarded-link data plane: pure modules, no QEMU dependency.

export { realClock, type Clock, type TimerHandle } from './clock.js';
export {
  ETH_HEADER_LEN, FrameDecoder, FramingError, MAX_FRAME_LEN, QEMU_MAX_FRAME_LEN, encodeFrame, encodeHeader,
  maxFrameLenFor,
} from './framing.js';
export { FramePort, DEFAULT_MAX_QUEUE_BYTES, type FramePortOptions, type PortCounters } from './port.js';
export { LearningSwitch, macAt, macToString, type SwitchCounters, type SwitchOptions } from './switch.js';
export {
  Impairer, NO_IMPAIRMENT, hasImpairment, impairmentProblem, type ImpairStats, type ImpairerOptions,
} from './impair.js';
export { PcapWriter, pcapGlobalHeader, pcapRecord, type PcapStats, type PcapWriterOptions } from './pcap.js';
export { pcapngInterface, pcapngPacket, pcapngSectionHeader } from './pcapng.js';
export {
  CaptureStream, DEFAULT_CAPTURE_BUFFER, type CaptureFormat, type CaptureOptions, type CaptureStats,
} from './capture.js';
export { hashSeed, impairSeed, mulberry32, rngFor, seedProblem } from './rng.js';
export { socketPair } from '../host/socketpair.js';
export {
  createForwardedLink, type DropCounters, type EndpointStats, type ForwardedLink, type ForwardedLinkOptions,
  type LinkStats, type TrafficCounters,
} from './forwarder.js';
export {
  TcpLinkEnd, type TcpLinkEndEvents, type TcpLinkEndOptions, type TcpLinkStats,
} from './tcp-link.js';
export { HelloRefused, tcpRoleFor, type HelloAuth, type LinkIdentity, type RefusalReason, type TcpRole } from './tcp-hello.js';
