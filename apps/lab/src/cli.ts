console.log("attnkit-lab: not built yet");
