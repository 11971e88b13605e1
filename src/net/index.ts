// The forwarded-link data plane: pure modules, no QEMU dependency.

export { realClock, type Clock, type TimerHandle } from './clock.js';
export { FrameDecoder, FramingError, MAX_FRAME_LEN, encodeFrame, encodeHeader } from './framing.js';
export { FramePort, DEFAULT_MAX_QUEUE_BYTES, type FramePortOptions, type PortCounters } from './port.js';
export { LearningSwitch, macAt, macToString, type SwitchCounters, type SwitchOptions } from './switch.js';
export { Impairer, hasImpairment, type ImpairStats, type ImpairerOptions } from './impair.js';
export { PcapWriter, type PcapStats, type PcapWriterOptions } from './pcap.js';
export { hashSeed, impairSeed, mulberry32, rngFor } from './rng.js';
export { socketPair } from './socketpair.js';
export {
  createForwardedLink, type EndpointStats, type ForwardedLink, type ForwardedLinkOptions, type LinkStats,
} from './forwarder.js';
